"""``guardrail scorer``: scorer cards.

* ``guardrail scorer info REF [--json]``: what a scorer is, the generators and task families it
  was trained (or calibrated) on, and its dev and held-out figures. Works for every reference
  without loading a model: ``builtin:finece-smollm2``, the built-in models used untrained
  (``builtin:smollm2-135m-instruct``, ``builtin:gemma3-270m``), ``logprob:mean_logprob``,
  ``logprob:min_window``, ``logprob:mean_entropy``, and local artifact directories.
* ``guardrail scorer record-heldout DIR REPORT.json``: write the summary of a held-out
  evaluation (``guardrail eval --json``) into the artifact's card.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register"]


def _info(args: argparse.Namespace) -> int:
    from guardrail.scorers.card_refs import card_for_ref

    card = card_for_ref(args.ref)
    if args.json:
        print(json.dumps(card.to_dict(), indent=2, sort_keys=True))
    else:
        print(card.format())
    return 0


def _record(args: argparse.Namespace) -> int:
    from pathlib import Path

    from guardrail.scorers.card import record_heldout

    figures = record_heldout(Path(args.artifact), Path(args.report))
    print(json.dumps({"artifact": args.artifact, "heldout": figures}, indent=2, sort_keys=True))
    return 0


def register(sub: Any) -> None:
    """Add the ``scorer`` command and its ``info`` and ``record-heldout`` sub-commands."""
    parser = sub.add_parser(
        "scorer",
        help="scorer cards: what a scorer was trained on and how it measured",
        description="Scorer cards: generators, task families and held-out figures.",
    )
    commands = parser.add_subparsers(dest="scorer_command", required=True)
    info = commands.add_parser("info", help="print a scorer's card")
    info.add_argument("ref", help="builtin:..., logprob:SIGNAL or an artifact directory")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_info)
    record = commands.add_parser(
        "record-heldout", help="write a held-out evaluation's summary into an artifact's card"
    )
    record.add_argument("artifact", help="scorer artifact directory (with finece.json)")
    record.add_argument("report", help="JSON report written by `guardrail eval`")
    record.set_defaults(func=_record)
