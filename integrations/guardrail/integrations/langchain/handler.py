"""GuardrailCallbackHandler: the sensor. Watches every LLM run of any chain or agent.

Attach it as a callback (``config={"callbacks": [handler]}``). For each chat model or LLM run
it reads the question (``on_chat_model_start`` / ``on_llm_start``), feeds each streamed token
and its OpenAI-shaped logprobs (``chunk.generation_info["logprobs"]`` or
``chunk.message.response_metadata["logprobs"]``) to an :class:`~guardrail.runtime.AnswerWatch`
kept per run id (parallel and nested runs never mix), and cleans up on ``on_llm_end`` /
``on_llm_error``.

**Stopping a stream.** The handler is synchronous with ``raise_error = True``: that is the only
kind of handler whose exception stops a sync ``stream()``/``invoke()`` (LangChain logs and
swallows errors of async handlers there). On async paths (``astream``, ``ainvoke``,
``abatch``) LangChain runs a sync handler in its thread pool (``run_inline = False``), so
scoring never blocks the event loop, and the exception still propagates. The signal is raised
in ``on_llm_new_token`` of the token that closed the checkpoint, before the model's stream
yields that chunk, so generation stops there; ``partial_answer`` ends with that token.

A decision on the question checkpoint (scored before the first token) is raised at the first
token (or at ``on_llm_end`` of a non-streamed call) rather than inside
``on_chat_model_start``, so that every tracer sees the run end with the error.

**invoke().** A chat model streams under ``invoke()`` only when it is asked to (``streaming=True``
or a streaming callback handler). With ``stream_invoke=True`` this handler declares LangChain's
streaming-handler protocol, so ``invoke``/``ainvoke``/``batch`` stream token by token and can be
cut at a checkpoint. It is off by default because LangChain taps only the *first* streaming
handler of a run for ``astream_events``/``astream_log`` output: a user-placed handler listed
before those tracers would hide chain stream events. (:func:`~guardrail.integrations.langchain.
guard` turns it on and appends its handler last.) Without streaming, the answer is scored when it
is complete, in ``on_llm_end``, and a decision is raised there, cut at the checkpoint.

**Tool calls.** A run that wrote no text (an agent step that only calls tools) is closed
without an outcome checkpoint: there is no answer to judge.

**Results.** The run summary (final confidence, checkpoints, decisions, flags) is put in the
last chunk's and the final message's ``response_metadata["guardrail"]`` (``generation_info``
for plain LLMs), where tracing tools see it, and kept in :attr:`runs`. With ``mode="observe"``
nothing is ever raised.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from guardrail.audit.log import AuditLog
from guardrail.audit.sink import AuditSink
from guardrail.errors import GuardSignal
from guardrail.policy import RunContext
from guardrail.runtime import (
    USE_POLICY,
    AnswerWatch,
    GuardConfig,
    GuardStatus,
    GuardSummary,
    PolicyLike,
    SummaryAction,
    WatchMode,
)
from guardrail.runtime.watch import WatchListener
from guardrail.scorers.base import Scorer

from ._text import (
    chunk_logprobs,
    content_text,
    is_last_chunk,
    question_from_messages,
    split_tokens,
)

__all__ = ["METADATA_KEY", "GuardrailCallbackHandler", "RunRecord"]

METADATA_KEY = "guardrail"
"""Key of the guard's summary in ``response_metadata`` and ``generation_info``."""

_T = TypeVar("_T")

_META_QUESTION = "guardrail_question"
_META_ATTEMPT = "guardrail_attempt"
_META_MODEL = "guardrail_model"
_META_SKIP = "guardrail_skip"


@dataclass(slots=True)
class RunRecord:
    """One watched LLM run: its id, parent, watch and how it ended."""

    run_id: UUID
    parent_run_id: UUID | None
    watch: AnswerWatch
    streamed: bool = False
    pending: GuardSignal | None = None
    outcome: str = "running"
    audit: Any = None
    own_audit: bool = False
    raised: list[GuardSignal] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The watch summary plus run ids, outcome and the :class:`GuardSummary` (JSON-ready)."""
        return {
            **self.watch.summary(),
            "run_id": str(self.run_id),
            "parent_run_id": None if self.parent_run_id is None else str(self.parent_run_id),
            "outcome": self.outcome,
            "summary": self.guard_summary(),
        }

    def guard_summary(self) -> GuardSummary:
        """The run as the runtime's one summary schema: the handler judges, never acts.

        ``flagged`` with the flags, ``pending_review`` when a provisional review was asked
        for (carried out by ``guard()`` or the middleware, not by this handler), else ``ok``.
        """
        watch = self.watch
        actions = [
            SummaryAction(type="flag", rule=_rule_of(flag), outcome="flagged")
            for flag in watch.flags
        ]
        status: GuardStatus = "flagged" if actions else "ok"
        if watch.pending_review is not None:
            status = "pending_review"
            actions.append(
                SummaryAction(
                    type="human_review",
                    rule=watch.pending_review.rule,
                    outcome="review requested (the callback handler only reports it)",
                )
            )
        return GuardSummary(
            status=status,
            final_confidence=watch.final_confidence,
            attempts=1,
            actions=actions,
            review_id=None,
            run_id=str(self.run_id),
            policy=watch.engine.policy.name,
        )


class GuardrailCallbackHandler(BaseCallbackHandler):
    """Scores every LLM run's answer while it streams and raises the policy's guard signals.

    ``policy`` is a :class:`~guardrail.policy.Policy`, a preset name, a file, or a ready
    :class:`~guardrail.runtime.GuardConfig` (then ``scorer``, ``mode``, ``audit`` and
    ``latency_budget_s`` come from it). ``question_from`` extracts the question from a chat
    prompt (default: the last human message). ``audit`` is a :class:`guardrail.audit.AuditLog`
    (one audit run per LLM run) or an :class:`guardrail.audit.AuditRun` shared by all runs.
    ``listener`` hears ``(kind, payload)`` for every checkpoint, decision, flag and error.
    ``attempt``/``model`` fix the run context; otherwise the run metadata keys
    ``guardrail_attempt``/``guardrail_model`` (else the invocation's model name) are used, and
    ``guardrail_question`` overrides the question, ``guardrail_skip`` skips a run.
    ``stream_invoke``: see the module documentation. The last ``keep_runs`` finished runs are
    kept in :attr:`runs`.
    """

    raise_error: bool = True
    run_inline: bool = False

    def __init__(
        self,
        policy: PolicyLike | GuardConfig,
        scorer: Scorer | None = None,
        *,
        mode: WatchMode = "enforce",
        question_from: Callable[[Sequence[BaseMessage]], str] | None = None,
        stream_invoke: bool = False,
        audit: AuditLog | AuditSink | None = None,
        listener: WatchListener | None = None,
        attempt: int | None = None,
        model: str | None = None,
        latency_budget_s: float | str | None = USE_POLICY,
        keep_runs: int = 256,
    ) -> None:
        super().__init__()
        if isinstance(policy, GuardConfig):
            self.config = policy
        else:
            self.config = GuardConfig(
                policy,
                scorer,
                mode=mode,
                audit=cast("AuditLog | None", audit),  # a run is only given with a config
                latency_budget_s=latency_budget_s,
            )
        self.question_from = question_from or question_from_messages
        self.listener = listener
        self.attempt = attempt
        self.model = model
        self._audit = audit if audit is not None else self.config.audit
        self._active: dict[UUID, RunRecord] = {}
        self._done: deque[RunRecord] = deque(maxlen=keep_runs)
        self._raised: deque[GuardSignal] = deque(maxlen=keep_runs)
        self._lock = threading.Lock()
        if stream_invoke:
            # LangChain's ``_StreamingCallbackHandler`` is a runtime-checkable protocol: having
            # these two (identity) methods makes chat models stream under invoke().
            self.tap_output_iter = self._tap_iter
            self.tap_output_aiter = self._tap_aiter

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self.config.policy.name!r}, mode={self.mode!r})"

    # ---------------------------------------------------------------------- state
    @property
    def mode(self) -> WatchMode:
        """``enforce`` or ``observe``."""
        return self.config.mode

    @property
    def runs(self) -> list[RunRecord]:
        """Finished runs (the most recent ``keep_runs``), oldest first."""
        with self._lock:
            return list(self._done)

    @property
    def active_runs(self) -> list[RunRecord]:
        """Runs still streaming."""
        with self._lock:
            return list(self._active.values())

    def all_runs(self) -> list[RunRecord]:
        """Finished runs, then the ones still streaming."""
        with self._lock:
            return [*self._done, *self._active.values()]

    def watches(self) -> list[AnswerWatch]:
        """The watches of every run (finished, then streaming): one attempt's model runs."""
        return [record.watch for record in self.all_runs()]

    def raised(self, signal: BaseException) -> bool:
        """True when ``signal`` was raised by this handler."""
        return any(signal is mine for mine in self._raised)

    @property
    def checkpoints_passed(self) -> int:
        """Checkpoints, over all runs, whose decision let the answer go on."""
        return sum(record.watch.checkpoints_passed for record in self.all_runs())

    @property
    def tokens_fed(self) -> int:
        """Answer tokens streamed, over all runs."""
        return sum(record.watch.token_count for record in self.all_runs())

    @property
    def tokens_cleared(self) -> int:
        """Answer tokens a passed checkpoint cleared, over all runs (hold-back releases them)."""
        return sum(record.watch.cleared_tokens for record in self.all_runs())

    # ------------------------------------------------------------------ callbacks
    def on_chat_model_start(
        self,
        serialized: dict[str, object],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, object] | None = None,
        **kwargs: object,
    ) -> None:
        """Open a watch for this chat model run; score the question."""
        prompt = messages[0] if messages else []
        self._start(
            lambda: self.question_from(prompt), run_id, parent_run_id, tags, metadata, kwargs
        )

    def on_llm_start(
        self,
        serialized: dict[str, object],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, object] | None = None,
        **kwargs: object,
    ) -> None:
        """Open a watch for this (completion) LLM run; score the question."""
        prompt = prompts[0] if prompts else ""
        self._start(lambda: prompt, run_id, parent_run_id, tags, metadata, kwargs)

    def on_llm_new_token(
        self,
        token: object,
        *,
        chunk: object = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: object,
    ) -> None:
        """Feed one token; raise the guard signal when its checkpoint interrupts."""
        record = self._active.get(run_id)
        if record is None:
            return
        record.streamed = True
        if record.pending is not None:
            self._interrupt(record, record.pending)
        watch = record.watch
        try:
            watch.feed(content_text(token), chunk_logprobs(chunk))
            if is_last_chunk(chunk):
                watch.end()
        except GuardSignal as signal:
            self._interrupt(record, signal)
        if watch.done:
            record.outcome = "completed"
            _attach(getattr(chunk, "message", None), record.summary())

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: object,
    ) -> None:
        """Finish the run (scoring the whole answer if it was not streamed); attach results."""
        record = self._active.get(run_id)
        if record is None:
            return
        if record.pending is not None:
            self._interrupt(record, record.pending)
        watch = record.watch
        try:
            if not watch.done:
                if not record.streamed:
                    _feed_complete(watch, response)
                watch.end()
        except GuardSignal as signal:
            self._interrupt(record, signal)
        record.outcome = "completed"
        summary = record.summary()
        for generations in response.generations[:1]:
            for generation in generations[:1]:
                if isinstance(generation, ChatGeneration):
                    _attach(generation.message, summary)
                else:
                    generation.generation_info = {
                        **(generation.generation_info or {}),
                        METADATA_KEY: summary,
                    }
        self._end(record)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: object,
    ) -> None:
        """The model failed (or was stopped): release the run's scoring session."""
        record = self._active.get(run_id)
        if record is None:
            return
        if not self.raised(error):
            record.watch.fail(error)
            record.outcome = "error"
        self._end(record)

    # ------------------------------------------------------------------ internals
    def _start(
        self,
        question: Callable[[], str],
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, object] | None,
        extra: Mapping[str, object],
    ) -> None:
        metadata = metadata or {}
        if metadata.get(_META_SKIP):
            return
        text = metadata.get(_META_QUESTION)
        context = self._context(tags, metadata, extra)
        audit, own_audit = self._audit_for(run_id)
        watch = self.config.watch(
            text if isinstance(text, str) else question(),
            context,
            audit=audit,
            listener=self._listener_for(run_id),
        )
        record = RunRecord(run_id, parent_run_id, watch, audit=audit, own_audit=own_audit)
        with self._lock:
            self._active[run_id] = record
        try:
            watch.start()
        except GuardSignal as signal:
            record.pending = signal  # raised at the first token, so tracers see the run end

    def _context(
        self, tags: list[str] | None, metadata: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> RunContext:
        params = extra.get("invocation_params") or {}
        attempt = self.attempt or metadata.get(_META_ATTEMPT) or 1
        model = self.model or metadata.get(_META_MODEL) or _model_name(params, metadata)
        max_tokens = params.get("max_tokens") or params.get("max_new_tokens")
        return RunContext(
            attempt=int(attempt),
            model=str(model or ""),
            tags=frozenset(tags or ()),
            metadata={k: v for k, v in metadata.items() if not k.startswith("guardrail_")},
            max_tokens=max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None,
        )

    def _audit_for(self, run_id: UUID) -> tuple[Any, bool]:
        audit = self._audit
        if audit is None:
            return None, False
        if callable(getattr(audit, "checkpoint", None)):
            return audit, False  # an AuditRun shared by every LLM run
        from guardrail.audit import AuditRun
        from guardrail.audit.on_error import PolicyAuditLog

        policy = self.config.policy
        log = PolicyAuditLog(cast(AuditLog, audit), policy.audit.on_error)
        run = AuditRun(log, run_id=str(run_id), policy=policy.name, policy_version=policy.version)
        run.start({"source": "langchain", "run_id": str(run_id)})
        return run, True

    def _listener_for(self, run_id: UUID) -> Callable[[str, Mapping[str, Any]], None] | None:
        listener = self.listener
        if listener is None:
            return None

        def tell(kind: str, payload: Mapping[str, Any]) -> None:
            listener(kind, {**payload, "run_id": str(run_id)})

        return tell

    def _interrupt(self, record: RunRecord, signal: GuardSignal) -> None:
        record.pending = None
        record.outcome = f"interrupted: {_action(signal)}"
        record.raised.append(signal)
        self._raised.append(signal)
        record.watch.close()
        self._end(record)
        raise signal

    def _end(self, record: RunRecord) -> None:
        with self._lock:
            if self._active.pop(record.run_id, None) is None:
                return
            self._done.append(record)
        if record.own_audit and record.audit is not None:
            record.audit.end(record.outcome, {"final_confidence": record.watch.final_confidence})

    @staticmethod
    def _tap_iter(run_id: UUID, output: Iterator[_T]) -> Iterator[_T]:
        return output

    @staticmethod
    def _tap_aiter(run_id: UUID, output: AsyncIterator[_T]) -> AsyncIterator[_T]:
        return output


def _action(signal: GuardSignal) -> str:
    decision = signal.decision
    return type(signal).__name__ if decision is None else decision.action.type


def _rule_of(flag: Mapping[str, object]) -> str | None:
    rule = flag.get("rule")
    return rule if isinstance(rule, str) else None


def _model_name(params: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    for key in ("model", "model_name", "model_id"):
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    value = metadata.get("ls_model_name")
    return value if isinstance(value, str) else ""


def _attach(message: object, summary: Mapping[str, Any]) -> None:
    if isinstance(message, BaseMessage):
        message.response_metadata[METADATA_KEY] = dict(summary)


def _feed_complete(watch: AnswerWatch, response: LLMResult) -> None:
    """Score a non-streamed answer token by token (its logprobs' tokens when it has them)."""
    if not response.generations or not response.generations[0]:
        return
    generation = response.generations[0][0]
    text = generation.text
    entries = _logprob_entries(generation)
    if entries and "".join(str(e.get("token", "")) for e in entries) == text:
        for entry in entries:
            watch.feed(str(entry.get("token", "")), entry)
        return
    for piece in split_tokens(text):
        watch.feed(piece)


def _logprob_entries(generation: Any) -> list[Mapping[str, Any]]:
    logprobs = chunk_logprobs(generation)
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else logprobs
    if isinstance(content, list) and all(isinstance(entry, Mapping) for entry in content):
        return content
    return []
