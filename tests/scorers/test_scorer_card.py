"""Scorer cards: what every built-in scorer was trained on, and scorer_mismatch end to end."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from guardrail.audit import AuditRun, JsonlAuditLog
from guardrail.cli import main
from guardrail.errors import GuardrailConfigError
from guardrail.models.artifacts import builtin_artifact_path
from guardrail.policy import Policy, PolicyEngine, RunContext, explain
from guardrail.runtime import AnswerWatch
from guardrail.scorers.card import (
    ScorerCard,
    ScorerMismatchWarning,
    card_from_data,
    check_model,
    same_model,
)
from guardrail.scorers.card_refs import card_for_ref
from guardrail.testing.scorers import ScriptedScorer

BUILTIN_REFS = (
    "builtin:finece-smollm2",
    "builtin:smollm2-135m-instruct",
    "builtin:gemma3-270m",
    "logprob:mean_logprob",
    "logprob:min_window",
    "logprob:mean_entropy",
)


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("ref", BUILTIN_REFS)
def test_scorer_info_works_for_every_builtin_reference(
    ref: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scorer", "info", ref, "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["ref"] == ref
    assert card["kind"] in ("finece", "untrained", "logprob")
    assert main(["scorer", "info", ref]) == 0
    assert ref in capsys.readouterr().out


def test_the_shipped_scorer_knows_its_generator_and_held_out_figures() -> None:
    card = card_for_ref("builtin:finece-smollm2")
    assert card.generators == ("builtin:smollm2-135m-instruct",)
    assert card.task_families == ("synthetic",)
    # figures per task and generator: in the family it was trained on and outside it
    assert "synthetic answers of builtin:smollm2-135m-instruct" in card.heldout
    assert "facts answers of builtin:gemma3-270m" in card.heldout
    for figures in card.heldout.values():
        assert 0.0 <= figures["finece_outcome_auroc"] <= 1.0
        assert figures["answers"] >= 30
    assert card.covers("guardrail-local/builtin:smollm2-135m-instruct") is True
    assert card.covers("HuggingFaceTB/SmolLM2-135M-Instruct") is True
    assert card.covers("builtin:gemma3-270m") is False
    assert card.covers("") is None
    assert card_for_ref("builtin:gemma3-270m").covers("gpt-4o") is False  # untrained


def test_unknown_references_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scorer", "info", "builtin:nope"]) == 2
    assert "builtin:finece-smollm2" in capsys.readouterr().err
    assert main(["scorer", "info", "logprob:nope"]) == 2


def test_aliases_of_builtin_models() -> None:
    assert same_model("builtin:gemma3-270m", "google/gemma-3-270m")
    assert same_model("guardrail-local/smollm2", "builtin:smollm2-135m-instruct")  # litellm name
    assert same_model("openai/gpt-4o-mini", "gpt-4o-mini")
    assert not same_model("gpt-4o", "gpt-4o-mini")


CARD = ScorerCard(ref="test-scorer", kind="finece", summary="test", generators=("model-a",))


def test_a_mismatch_is_warned_once_per_model_and_process() -> None:
    scorer = ScriptedScorer([0.5], card=CARD, name="test-scorer")
    with pytest.warns(ScorerMismatchWarning, match="model-b"):
        assert check_model(scorer, "model-b") is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_model(scorer, "model-b") is True  # no second warning
        assert check_model(scorer, "model-a") is False
        assert check_model(scorer, "") is None
        assert check_model(ScriptedScorer([0.5]), "model-b") is None  # no card


POLICY = Policy.from_dict(
    {
        "name": "mismatch",
        "checkpoints": {"strategies": [{"type": "paragraph"}], "min_gap": 0},
        "rules": [
            {
                "name": "unknown-model",
                "when": {"scorer_mismatch": True},
                "action": {"type": "flag", "label": "scorer-mismatch"},
            }
        ],
    }
)


def _watch(model: str, tmp_path: Path) -> tuple[AnswerWatch, JsonlAuditLog, AuditRun]:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    run = AuditRun(log, policy=POLICY.name)
    scorer = ScriptedScorer(lambda q, a: 0.9, card=CARD, name="test-scorer")
    watch = AnswerWatch(
        PolicyEngine(POLICY), scorer, "Q?", context=RunContext(model=model), audit=run
    )
    return watch, log, run


def test_events_audit_and_policy_see_the_mismatch(tmp_path: Path) -> None:
    with pytest.warns(ScorerMismatchWarning):
        watch, log, run = _watch("model-z", tmp_path)
    for token in ("first line\n", "second"):
        watch.feed(token)
    watch.finish()
    assert watch.events
    assert all(event.scorer_mismatch is True for event in watch.events)
    assert [flag["label"] for flag in watch.flags] == ["scorer-mismatch"] * len(watch.events)
    checkpoints = [r for r in log.read_run(run.run_id) if r.kind == "checkpoint"]
    assert checkpoints
    assert all(r.payload["scorer_mismatch"] is True for r in checkpoints)
    known, _, _ = _watch("model-a", tmp_path)
    known.feed("line\n")
    known.finish()
    assert all(event.scorer_mismatch is False for event in known.events)
    assert not known.flags


def test_the_condition_round_trips_and_explains() -> None:
    rule = POLICY.rules[0]
    assert rule.when.model_dump() == {"scorer_mismatch": True}
    assert "not trained or calibrated on the guarded model" in explain(POLICY)
    with pytest.raises(GuardrailConfigError, match="scorer_mismatch"):
        Policy.from_dict(
            {"rules": [{"name": "x", "when": {"scorer_mismatch": "yes"}, "action": "flag"}]}
        )


def test_trained_artifacts_record_their_data_and_held_out_figures(tmp_path: Path) -> None:
    data = tmp_path / "labels.jsonl"
    meta = {"type": "meta", "config": {"task": "synthetic", "generator": "builtin:gemma3-270m"}}
    data.write_text(json.dumps(meta) + "\n")
    assert card_from_data([str(data)]) == {
        "generators": ["builtin:gemma3-270m"],
        "task_families": ["synthetic"],
    }
    bare = tmp_path / "bare.jsonl"
    bare.write_text("{}\n")
    assert card_from_data([str(bare)])["generators"] is None
    shipped = builtin_artifact_path("finece-smollm2")
    assert shipped is not None
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    shutil.copy(shipped / "finece.json", artifact / "finece.json")
    report = tmp_path / "eval.json"
    summary: dict[str, Any] = {"finece_outcome_auroc": 0.7, "base_accuracy": 0.3}
    meta = {"generator": "g2", "task": "t", "answers": 20, "test": 10}
    report.write_text(json.dumps({"summary": summary, "meta": meta}))
    assert main(["scorer", "record-heldout", str(artifact), str(report)]) == 0
    card = card_for_ref(str(artifact))
    assert card.heldout["t answers of g2"]["finece_outcome_auroc"] == 0.7
    assert card.heldout["t answers of g2"]["answers"] == 20  # the summary is over every answer
    shipped_figures = card_for_ref("builtin:finece-smollm2").heldout
    assert len(card.heldout) == len(shipped_figures) + 1  # the shipped figures are kept


def test_card_shows_the_per_stage_calibration_maps(tmp_path: Path) -> None:
    from guardrail.scorers.card import card_for_artifact

    platt = {"kind": "platt", "coef": 0.5, "intercept": -0.9}
    meta = {
        "format": 1,
        "kind": "ift",
        "base_model": "builtin:smollm2-135m-instruct",
        "calibration": platt,
        "calibration_by_stage": {"question": {**platt, "coef": 1.2}},
        "card": {"generators": ["builtin:smollm2-135m-instruct"], "task_families": ["facts"]},
    }
    (tmp_path / "finece.json").write_text(json.dumps(meta))
    card = card_for_artifact(str(tmp_path), tmp_path)
    assert card.calibration == {**platt, "by_stage": {"question": {**platt, "coef": 1.2}}}
    assert "by_stage" in card.format()
