"""The shipped scorer's dev questions as a label file (the combiner may see them; training did not).

    python reports/hybrid/dev_labels.py ARTIFACT OUT

Reads the artifact's ``finece.json`` (training data, ``dev_fraction``, ``seed``), splits the
questions exactly as the trainer did (:func:`guardrail.lab.training.examples.split_by_question`)
and writes the meta line and every record of the dev questions to ``OUT``: a label file that
``guardrail calibrate --scorer hybrid:...`` reads like any other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from guardrail.lab.training.examples import load_examples, split_by_question
from guardrail.scorers.artifact import read_metadata


def main(artifact: str, out: str) -> int:
    """Write the dev questions' records of ``artifact``'s training data to ``out``."""
    training = read_metadata(Path(artifact))["training"]
    paths = [str(p) for p in training["data"]]
    _, dev = split_by_question(load_examples(paths), training["dev_fraction"], training["seed"])
    keep = {example.question_id for example in dev}
    written = 0
    with Path(out).open("w", encoding="utf-8") as target:
        for path in paths:
            with Path(path).open(encoding="utf-8") as source:
                for number, line in enumerate(source):
                    record = json.loads(line)
                    if (
                        number == 0 and path == paths[0] and record.get("type") == "meta"
                    ) or record.get("question_id") in keep:
                        target.write(line)
                        written += 1
    print(f"{out}: {len(keep)} dev questions, {written} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
