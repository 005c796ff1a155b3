"""Claims are enforced on both backends, and reviewer input is bounded (issue 26, item 6)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from guardrail.audit import JsonlAuditLog
from guardrail.review import (
    AlreadyDecidedError,
    InvalidDecisionError,
    ReviewDecision,
    ReviewItem,
    ReviewQueue,
    ReviewStatus,
    ReviewStore,
    open_review_store,
)
from guardrail.review.errors import ItemClaimedError, ReviewPermissionError
from guardrail.review.models import MAX_ANSWER_CHARS, MAX_REVIEWER_CHARS

MakeItem = Callable[..., ReviewItem]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.review")


def test_deciding_an_item_another_reviewer_holds_is_refused(
    store: ReviewStore, make_item: MakeItem
) -> None:
    item = store.enqueue(make_item())
    assert store.claim("ann") is not None
    for verdict, edited in (("approve", None), ("reject", None), ("edit", "better")):
        with pytest.raises(ItemClaimedError, match=r"claimed by 'ann' until .* UTC") as info:
            store.decide(item.id, verdict, "bob", edited)
        assert info.value.holder == "ann"
        assert info.value.is_retryable
    assert store.get(item.id).status is ReviewStatus.PENDING
    decided = store.decide(item.id, "approve", "ann")  # the holder may
    assert decided.decision is not None
    assert (decided.decision.reviewer, decided.decision.overrode_claim) == ("ann", None)


def test_a_released_or_lapsed_claim_no_longer_blocks(
    store: ReviewStore, make_item: MakeItem
) -> None:
    released = store.enqueue(make_item(queue="r"))
    lapsed = store.enqueue(make_item(queue="l"))
    assert store.claim("ann", queue="r") is not None
    store.release(released.id, "ann")
    assert store.decide(released.id, "reject", "bob").status is ReviewStatus.REJECTED
    assert store.claim("ann", queue="l", lease_s=0.05) is not None
    time.sleep(0.2)
    decided = store.decide(lapsed.id, "approve", "bob")
    assert decided.decision is not None
    assert decided.decision.overrode_claim is None


def test_force_decides_over_a_live_claim_and_records_it(
    store: ReviewStore, make_item: MakeItem
) -> None:
    item = store.enqueue(make_item())
    assert store.claim("ann") is not None
    decided = store.decide(item.id, "edit", "root", "fixed", note="ann is away", force=True)
    assert decided.decision is not None
    assert decided.decision.overrode_claim == "ann"
    assert store.get(item.id).decision == decided.decision  # stored, not only returned
    with pytest.raises(AlreadyDecidedError):
        store.decide(item.id, "approve", "ann")


def test_concurrent_deciders_on_a_claimed_item(store: ReviewStore, make_item: MakeItem) -> None:
    item = store.enqueue(make_item())
    assert store.claim("ann") is not None
    outcomes: dict[str, str] = {}

    def decide(name: str) -> None:
        try:
            store.decide(item.id, "approve", name)
            outcomes[name] = "decided"
        except (ItemClaimedError, AlreadyDecidedError) as exc:
            outcomes[name] = type(exc).__name__

    threads = [threading.Thread(target=decide, args=(n,)) for n in ("ann", "bob", "cy", "di")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.pop("ann") == "decided"
    # Before ann's decision the claim refuses them, after it the decision does; never both.
    assert set(outcomes.values()) <= {"ItemClaimedError", "AlreadyDecidedError"}
    assert len(outcomes) == 3
    decision = store.get(item.id).decision
    assert decision is not None
    assert decision.reviewer == "ann"


def test_only_admins_may_force_and_the_override_is_audited(
    review_db: str, tmp_path: Path, make_item: MakeItem, caplog: pytest.LogCaptureFixture
) -> None:
    audit = JsonlAuditLog(tmp_path / "audit.jsonl")
    with ReviewQueue(open_review_store(review_db), audit=audit, admins={"root"}) as queue:
        item = queue.enqueue(make_item(run_id="run-7"))
        assert queue.claim("ann") is not None
        with pytest.raises(ReviewPermissionError, match="'bob' may not force"):
            queue.approve(item.id, "bob", force=True)
        with pytest.raises(ItemClaimedError):
            queue.approve(item.id, "root")  # an admin still needs force
        decided = queue.reject(item.id, "root", note="stale claim", force=True)
    assert decided.decision is not None
    assert decided.decision.overrode_claim == "ann"
    decision = audit.read_run("run-7")[-1]
    assert decision.payload["forced"] is True
    assert decision.payload["overrode_claim"] == "ann"
    assert decision.payload["reviewer"] == "root"
    assert "decided over the live claim of 'ann'" in caplog.text


def test_admins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    monkeypatch.setenv("GUARDRAIL_REVIEW_ADMINS", " root , lead ,")
    with ReviewQueue(path=db_path) as queue:
        assert queue.admins == {"root", "lead"}
    monkeypatch.setenv("GUARDRAIL_REVIEW_ADMINS", "ro\x1bot")
    with pytest.raises(ValueError, match="U\\+001B"):
        ReviewQueue(path=db_path)


def test_cli_refuses_a_claimed_item_and_forces_as_admin(
    run: Run, review_db: str, make_item: MakeItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_review_store(review_db) as store:
        item = store.enqueue(make_item())
        assert store.claim("ann") is not None
    code, _, err = run("review", "approve", item.id, "--db", review_db, "--reviewer", "bob")
    assert code == 1
    assert "claimed by 'ann'" in err
    args = ("review", "approve", item.id, "--db", review_db, "--reviewer", "root", "--force")
    monkeypatch.delenv("GUARDRAIL_REVIEW_ADMINS", raising=False)
    code, _, err = run(*args)
    assert (code, "may not force" in err) == (1, True)
    monkeypatch.setenv("GUARDRAIL_REVIEW_ADMINS", "root")
    code, out, _ = run(*args)
    assert code == 0
    assert "forced over ann's claim" in out


def test_a_50_mb_edit_is_refused_naming_the_limit(store: ReviewStore, make_item: MakeItem) -> None:
    item = store.enqueue(make_item())
    huge = "x" * (50 * 2**20)
    with pytest.raises(InvalidDecisionError, match=f"limit is {MAX_ANSWER_CHARS:,}"):
        store.decide(item.id, "edit", "ann", huge)
    with pytest.raises(InvalidDecisionError, match="MAX_NOTE_CHARS"):
        store.decide(item.id, "approve", "ann", note=huge)
    assert store.get(item.id).status is ReviewStatus.PENDING
    edited = store.decide(item.id, "edit", "ann", "y" * MAX_ANSWER_CHARS)
    assert edited.final_answer is not None
    assert len(edited.final_answer) == MAX_ANSWER_CHARS


def test_cli_edit_reads_no_more_than_the_limit(
    run: Run, db_path: Path, make_item: MakeItem, tmp_path: Path
) -> None:
    with open_review_store(db_path) as store:
        item = store.enqueue(make_item())
    answer = tmp_path / "answer.txt"
    answer.write_text("z" * (MAX_ANSWER_CHARS + 10), encoding="utf-8")
    code, _, err = run(
        "review", "edit", item.id, "--db", str(db_path), "--reviewer", "ann",
        "--answer-file", str(answer),
    )  # fmt: skip
    assert code == 2
    assert f"limit of {MAX_ANSWER_CHARS:,} characters" in err
    code, _, err = run(
        "review", "edit", item.id, "--db", str(db_path), "--reviewer", "ann",
        "--answer", "q" * (MAX_ANSWER_CHARS + 1),
    )  # fmt: skip
    assert code == 1
    assert "MAX_ANSWER_CHARS" in err


@pytest.mark.parametrize(
    "name",
    ["ann\x1b[2J", "ann\nbob", "\u202eann", "ann\x00", "a\u2028b", "   ", "n" * 201],
)
def test_reviewer_names_are_bounded_and_free_of_control_characters(
    store: ReviewStore, make_item: MakeItem, name: str
) -> None:
    assert len("n" * 201) > MAX_REVIEWER_CHARS
    item = store.enqueue(make_item())
    with pytest.raises(InvalidDecisionError, match="reviewer name"):
        store.decide(item.id, "approve", name)
    with pytest.raises(InvalidDecisionError, match="reviewer name"):
        store.claim(name)
    with pytest.raises(InvalidDecisionError, match="reviewer name"):
        store.release(item.id, name)
    with pytest.raises(ValueError, match="reviewer name"):
        ReviewDecision(verdict="approve", reviewer=name)
    assert store.get(item.id).claimed_by is None
    assert store.decide(item.id, "approve", "Zoë O'Brien-Ng").status is ReviewStatus.APPROVED
