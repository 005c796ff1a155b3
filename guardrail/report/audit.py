"""Build a :class:`~guardrail.report.model.RunReport` from the audit records of one run.

A guarded run records ``run_start`` (question, model), a ``checkpoint`` and a ``decision`` per
checkpoint of every attempt (the payload names the attempt and model), an ``action`` for each
retry, escalation, review or abort, ``error`` records, and ``run_end`` (status). The answer text
is only known where a checkpoint payload carries its span's ``text``; otherwise the report shows
how long each segment was.

BCI: a checkpoint is recorded when it is scored, before later checkpoints revise it. When the
policy is known and its BCI uses no sampled futures (``width == 0``), the final revisions are
recomputed from the raw confidences, exactly as the monitor computed them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, assert_never

from guardrail.audit.records import AuditKind, AuditRecord
from guardrail.bci import integrate
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy.actions import ATTEMPT_ACTION_TYPES
from guardrail.report.model import ReportAction, ReportAttempt, ReportDecision, RunReport

if TYPE_CHECKING:
    from guardrail.audit.log import AuditLog
    from guardrail.policy import Policy

__all__ = ["last_run_id", "load_run_report", "report_from_records"]

_NEXT_ATTEMPT_KINDS = frozenset(ATTEMPT_ACTION_TYPES)
_RUN_BOUNDARIES = (AuditKind.RUN_START, AuditKind.RUN_END)


def last_run_id(log: AuditLog) -> str | None:
    """The id of the most recent run with a ``run_start`` or ``run_end`` record, if any."""
    n = 256
    while True:
        records = log.tail(n)
        for record in reversed(records):
            if record.kind in _RUN_BOUNDARIES:
                return record.run_id
        if len(records) < n:
            return None
        n *= 4


def load_run_report(
    log: AuditLog,
    run_id: str,
    *,
    policy: Policy | None = None,
    policy_source: str | None = None,
) -> RunReport | None:
    """The report of run ``run_id`` in ``log`` (``None`` when the log has no such run).

    Without ``policy``, a shipped preset whose name the run recorded is used for the
    explanation and the BCI revisions, and the page says so.
    """
    records = log.read_run(run_id)
    if not records:
        return None
    if policy is None:
        policy, policy_source = _recorded_preset(records)
    return report_from_records(records, policy=policy, policy_source=policy_source)


def _recorded_preset(records: Sequence[AuditRecord]) -> tuple[Policy | None, str | None]:
    from guardrail.policy import list_presets, load_preset

    name = next((r.policy for r in records if r.policy), None)
    if name is None or name not in list_presets():
        return None, None
    return load_preset(name), f"the shipped preset {name!r} (the run's policy name)"


def report_from_records(
    records: Sequence[AuditRecord],
    *,
    policy: Policy | None = None,
    policy_source: str | None = None,
) -> RunReport:
    """The report of the run whose records (oldest first) are ``records``.

    ``policy`` is the policy the run applied, when known: it gives the plain-English
    explanation and the final BCI revisions. Raises :class:`ValueError` without records.
    """
    if not records:
        raise ValueError("no audit records to report on")
    builder = _RunBuilder()
    for record in records:
        builder.add(record)
    return builder.build(policy, policy_source)


@dataclass
class _AttemptDraft:
    number: int
    model: str = ""
    kind: str = "initial"
    events: dict[int, CheckpointEvent] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    decisions: list[ReportDecision] = field(default_factory=list)
    actions: list[ReportAction] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def answer(self) -> str | None:
        """The answer text, when every scored span recorded its text and they join up."""
        parts: list[str] = []
        position = 0
        for index in sorted(self.events):
            event = self.events[index]
            if event.char_end <= event.char_start:
                continue
            text = self.texts.get(index)
            if text is None or event.char_start != position:
                return None
            if len(text) != event.char_end - event.char_start:
                return None
            parts.append(text)
            position = event.char_end
        return "".join(parts) if parts else None


class _RunBuilder:
    """Folds the records of one run, in order, into attempts."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.question = ""
        self.model = ""
        self.status = "unknown"
        self.started: datetime | None = None
        self.duration_s: float | None = None
        self.final_answer: str | None = None
        self.policy_name: str | None = None
        self.policy_version: str | None = None
        self.drafts: dict[int, _AttemptDraft] = {}
        self.current = 1
        self.next_kinds: dict[int, tuple[str, str]] = {}
        self.run_errors: list[str] = []
        self.skipped = 0

    def draft(self, number: int | None) -> _AttemptDraft:
        if number is not None:
            self.current = number
        found = self.drafts.get(self.current)
        if found is None:
            found = self.drafts[self.current] = _AttemptDraft(self.current)
        return found

    def add(self, record: AuditRecord) -> None:
        self.run_id = self.run_id or record.run_id
        self.policy_name = self.policy_name or record.policy
        self.policy_version = self.policy_version or record.policy_version
        payload = record.payload
        match record.kind:
            case AuditKind.RUN_START:
                self.started = record.ts
                self.question = _text(payload.get("question"))
                self.model = _text(payload.get("model"))
            case AuditKind.CHECKPOINT:
                self._checkpoint(payload)
            case AuditKind.DECISION:
                self._decision(payload)
            case AuditKind.ACTION:
                self._action(payload)
            case AuditKind.ERROR:
                self._error(payload)
            case AuditKind.RUN_END:
                self.status = _text(payload.get("status")) or "unknown"
                self.duration_s = record.duration_s
                answer = payload.get("answer")
                self.final_answer = answer if isinstance(answer, str) else None
            case _:
                assert_never(record.kind)

    def _checkpoint(self, payload: Mapping[str, Any]) -> None:
        event = _event(payload)
        if event is None:
            self.skipped += 1
            return
        draft = self.draft(_int(payload.get("attempt")))
        draft.model = _text(payload.get("model")) or draft.model
        draft.events[event.index] = event
        text = payload.get("text")
        if isinstance(text, str):
            draft.texts[event.index] = text

    def _decision(self, payload: Mapping[str, Any]) -> None:
        context = _mapping(payload.get("context"))
        draft = self.draft(_int(context.get("attempt")))
        draft.model = _text(context.get("model")) or draft.model
        action = _mapping(payload.get("action"))
        event = _mapping(payload.get("event"))
        reasons = payload.get("reasons")
        draft.decisions.append(
            ReportDecision(
                action=_text(action.get("type")) or "unknown",
                rule=_optional_text(payload.get("rule")),
                reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
                checkpoint=_int(event.get("index")),
                token_index=_int(event.get("token_index")),
                confidence=_float(event.get("confidence")),
                revised=_float(event.get("revised")),
                failure_mode=_optional_text(payload.get("failure_mode")),
                error=_optional_text(payload.get("error")),
            )
        )

    def _action(self, payload: Mapping[str, Any]) -> None:
        kind = _text(payload.get("action")) or _text(payload.get("type")) or "unknown"
        attempt = _int(payload.get("attempt"))
        detail = _mapping(payload.get("detail"))
        draft = self.draft(attempt if attempt else None)
        draft.actions.append(
            ReportAction(
                type=kind,
                attempt=draft.number,
                rule=_optional_text(payload.get("rule")),
                outcome=_text(payload.get("outcome")),
                checkpoint=_int(payload.get("checkpoint")),
                confidence=_float(payload.get("confidence")),
                detail=dict(detail),
            )
        )
        following = _int(detail.get("next_attempt"))
        if following is not None and kind in _NEXT_ATTEMPT_KINDS:
            self.next_kinds[following] = (kind, _text(detail.get("model")))

    def _error(self, payload: Mapping[str, Any]) -> None:
        message = _text(payload.get("message"))
        kind = _text(payload.get("type")) or "error"
        source = _text(payload.get("source"))
        text = f"{kind}: {message}" if message else kind
        text = f"{text} (from the {source})" if source else text
        if not self.drafts and _int(payload.get("attempt")) is None:
            self.run_errors.append(text)
            return
        self.draft(_int(payload.get("attempt"))).errors.append(text)

    def build(self, policy: Policy | None, policy_source: str | None) -> RunReport:
        for number, (kind, model) in self.next_kinds.items():
            if number in self.drafts:  # a scheduled attempt that never ran has no records
                self.drafts[number].kind = kind
                self.drafts[number].model = self.drafts[number].model or model
        if 1 in self.drafts:
            self.drafts[1].model = self.drafts[1].model or self.model
        attempts = tuple(self._attempt(self.drafts[n], policy) for n in sorted(self.drafts))
        notes: list[str] = []
        if self.skipped:
            notes.append(
                f"{self.skipped} checkpoint record(s) could not be read and were left out."
            )
        if policy is not None and self.policy_name and policy.name != self.policy_name:
            notes.append(
                f"The run recorded policy {self.policy_name!r}; the explanation shows the "
                f"given policy {policy.name!r}."
            )
        return RunReport(
            source="audit",
            question=self.question,
            attempts=attempts,
            status=self.status,
            run_id=self.run_id,
            policy_name=self.policy_name or (None if policy is None else policy.name),
            policy_version=self.policy_version,
            policy_explanation=None if policy is None else _explain(policy),
            policy_source=policy_source,
            revised_note=_revised_note(policy),
            started=self.started,
            duration_s=self.duration_s,
            final_answer=self.final_answer,
            errors=tuple(self.run_errors),
            notes=tuple(notes),
        )

    @staticmethod
    def _attempt(draft: _AttemptDraft, policy: Policy | None) -> ReportAttempt:
        events = tuple(draft.events[index] for index in sorted(draft.events))
        return ReportAttempt(
            number=draft.number,
            model=draft.model,
            kind=draft.kind,
            answer=draft.answer(),
            events=_revise(events, policy),
            decisions=tuple(draft.decisions),
            actions=tuple(draft.actions),
            errors=tuple(draft.errors),
        )


def _explain(policy: Policy) -> str:
    from guardrail.policy import explain

    return explain(policy)


def _revised_note(policy: Policy | None) -> str:
    if policy is None:
        return (
            "Revised values are as recorded at each checkpoint: later BCI revisions are not in "
            "the audit log (pass the policy to recompute them)."
        )
    bci = policy.bci
    if bci.depth == 0 or bci.alpha == 1.0:
        return "BCI is off in this policy: revised confidence equals raw confidence."
    if bci.width > 0:
        return (
            "Revised values are as recorded at each checkpoint: the sampled futures BCI used "
            "are not in the audit log, so later revisions cannot be recomputed."
        )
    return (
        f"Revised values are recomputed with the policy's BCI (alpha {bci.alpha:g}, "
        f"depth {bci.depth}) from the recorded raw confidences."
    )


def _revise(
    events: tuple[CheckpointEvent, ...], policy: Policy | None
) -> tuple[CheckpointEvent, ...]:
    """Final BCI revisions of one attempt's events, when they can be recomputed exactly."""
    if policy is None or not events:
        return events
    bci = policy.bci
    contiguous = [event.index for event in events] == list(range(len(events)))
    if bci.width > 0 or bci.depth == 0 or not contiguous:
        return events
    values = integrate([event.confidence for event in events], bci.alpha, bci.depth)
    return tuple(
        event
        if value == event.revised
        else replace(event, revised=value, revisions=(*event.revisions, value))
        for event, value in zip(events, values, strict=True)
    )


# ---------------------------------------------------------------- payload readers
def _event(payload: Mapping[str, Any]) -> CheckpointEvent | None:
    """The checkpoint event in a ``checkpoint`` payload, or ``None`` when it is malformed."""
    try:
        stage = Stage(payload["stage"])
        numbers = [_int(payload.get(key)) for key in ("index", "token_index")]
        span = [_int(payload.get(key)) for key in ("char_start", "char_end")]
        confidence = _float(payload.get("confidence"))
        revised = _float(payload.get("revised"))
    except (KeyError, ValueError):
        return None
    if None in numbers or None in span or confidence is None:
        return None
    revisions = payload.get("revisions")
    history = [_float(value) for value in revisions] if isinstance(revisions, list) else []
    return CheckpointEvent(
        index=numbers[0] or 0,
        stage=stage,
        reason=_text(payload.get("reason")),
        token_index=numbers[1] or 0,
        char_start=span[0] or 0,
        char_end=span[1] or 0,
        confidence=confidence,
        revised=confidence if revised is None else revised,
        latency_s=_float(payload.get("latency_s")) or 0.0,
        entropy=_float(payload.get("entropy")),
        revisions=tuple(value for value in history if value is not None),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
