"""LangGraph: guard an answer in one node, hold a low-confidence one for a human in the next.

::

    builder = StateGraph(GuardrailState)
    add_guarded_review(builder, guarded=guard(llm, policy, scorer, review=queue), queue=queue)
    builder.add_edge(START, "guarded")
    graph = builder.compile(checkpointer=SqliteSaver(sqlite3.connect("graph.db", ...)))
    state = graph.invoke({"question": "..."}, config)        # pauses: state["__interrupt__"]
    state = graph.invoke(Command(resume={"verdict": "edit", "edited_answer": "..."}), config)

:func:`guarded_node` runs a :func:`~guardrail.integrations.langchain.guard`-ed runnable and
stores the answer and the :class:`~guardrail.runtime.GuardedResult` record in the state.
:func:`needs_review` routes answers whose guard left a provisional review pending (or whose
final confidence is below a threshold) to :func:`human_review_node`, which pauses the graph with
:func:`langgraph.types.interrupt`, sending a :class:`ReviewRequest` and expecting a
:class:`ReviewResponse` (``approve`` / ``edit`` / ``reject``) on ``Command(resume=...)``.
With a checkpointer such as ``SqliteSaver`` the pause survives the process: another process
with the same database and ``thread_id`` resumes it.

**Nodes re-run.** On resume LangGraph runs the interrupted node again *from its start*, and a
failed task is re-run from its last checkpoint. Hence the split: the model call lives in the
guarded node, which finished (and was checkpointed) before the pause, so a resume never calls
the model again; the review node only builds the request (pure) before ``interrupt()`` and
records the verdict after it. Both are safe to repeat: the guarded node keys its review item on
``thread_id`` and task (``checkpoint_ns``), so a re-run finds the item instead of enqueueing a
second one, and the review node's queue decision ignores an item already decided the same way.
Keep blocking reviews out of graphs (use ``mode: provisional`` in the policy): the graph's pause
is the blocking wait, and it holds no worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Self, TypedDict

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END
from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from guardrail.runtime import GuardAborted, GuardedResult
from guardrail.runtime.signals import ReviewRejected

__all__ = [
    "GuardrailState",
    "ReviewRequest",
    "ReviewResponse",
    "add_guarded_review",
    "guarded_node",
    "human_review_node",
    "needs_review",
    "record_verdict",
]

_DEDUPE_KEY = "guardrail_dedupe_key"  # guardrail.integrations.langchain.runnable.DEDUPE_KEY


class GuardrailState(TypedDict, total=False):
    """The state keys the nodes read and write (names configurable on each helper)."""

    question: str
    answer: str | None
    guardrail: dict[str, Any]
    review: dict[str, Any]


class ReviewRequest(BaseModel):
    """What the graph shows the reviewer when it pauses (the ``interrupt()`` value)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["guardrail_review"] = "guardrail_review"
    question: str
    answer: str
    confidence: float | None = None
    status: str
    partial: bool = False
    review_id: str | None = None
    rule: str | None = None
    reasons: list[str] = Field(default_factory=list)
    attempts: int = 0


class ReviewResponse(BaseModel):
    """What the reviewer sends back with ``Command(resume=...)``; ``edit`` needs the new answer."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "edit", "reject"]
    edited_answer: str | None = None
    reviewer: str = "reviewer"
    note: str | None = None

    @model_validator(mode="after")
    def _edit_has_answer(self) -> Self:
        if (self.verdict == "edit") != (self.edited_answer is not None):
            raise ValueError("edited_answer is required for, and only for, verdict 'edit'")
        return self


def guarded_node(
    guarded: Runnable[Any, Any],
    *,
    question_key: str = "question",
    answer_key: str = "answer",
    result_key: str = "guardrail",
    input_from: Callable[[Mapping[str, Any]], Any] | None = None,
    review_below: float | None = None,
) -> Callable[[Mapping[str, Any], RunnableConfig], dict[str, Any]]:
    """A node that runs ``guarded`` (a :func:`guard`-ed runnable returning results).

    It reads ``state[question_key]`` (or ``input_from(state)``) and writes the answer text to
    ``answer_key`` and the result record, plus ``needs_review``, to ``result_key``. An abort
    without fallback is stored, not raised (``status: aborted``, the partial answer), and so is
    a rejected blocking review. ``review_below`` also sends answers whose final confidence is
    below it to review.
    """

    def node(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        value = input_from(state) if input_from is not None else state[question_key]
        run_config = _with_dedupe_key(config)
        try:
            result = guarded.invoke(value, run_config)
        except (GuardAborted, ReviewRejected) as signal:
            if signal.result is None:
                raise
            result = signal.result
        if not isinstance(result, GuardedResult):
            raise TypeError("guarded_node needs guard(..., return_result=True)")
        record: dict[str, object] = {
            **result.to_dict(),
            "needs_review": _needs_review(result, review_below),
        }
        answer = None if result.status in ("aborted", "rejected") else result.answer
        return {answer_key: answer, result_key: record}

    return node


def _with_dedupe_key(config: RunnableConfig) -> RunnableConfig:
    configurable = config.get("configurable") or {}
    thread, namespace = configurable.get("thread_id"), configurable.get("checkpoint_ns")
    if thread is None:
        return config
    metadata = {**(config.get("metadata") or {}), _DEDUPE_KEY: f"{thread}:{namespace or ''}"}
    return {**config, "metadata": metadata}


def _needs_review(result: GuardedResult, below: float | None) -> bool:
    if result.status == "pending_review":
        return True
    confidence = result.final_confidence
    low = below is not None and (confidence is None or confidence < below)
    return low and result.status not in ("aborted", "rejected")


def needs_review(state: Mapping[str, Any], result_key: str = "guardrail") -> bool:
    """True when the guarded node asked for a human decision."""
    record = state.get(result_key)
    return bool(isinstance(record, Mapping) and record.get("needs_review"))


def human_review_node(
    *,
    question_key: str = "question",
    answer_key: str = "answer",
    result_key: str = "guardrail",
    review_key: str = "review",
    queue: Any = None,
    rejected_answer: str | None = None,
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A node that pauses the graph for a reviewer when :func:`needs_review` holds.

    It calls ``interrupt(ReviewRequest, response_schema=ReviewResponse)``; on resume it writes
    the verdict to ``review_key`` and the released answer to ``answer_key`` (the edit; the
    answer as is on approve; ``rejected_answer`` on reject). With ``queue`` (a
    :class:`guardrail.review.ReviewQueue` or store) the verdict is also recorded on the review
    item the guard enqueued, so the queue and the graph agree.
    """

    def node(state: Mapping[str, Any]) -> dict[str, Any]:
        if not needs_review(state, result_key):
            return {}
        record = state[result_key]
        request = review_request(
            record, question=state.get(question_key), answer=state.get(answer_key)
        )
        response = interrupt(request.model_dump(), response_schema=ReviewResponse)
        # -- everything below runs once the reviewer answered (the node re-ran up to here) --
        if queue is not None and request.review_id is not None:
            record_verdict(queue, request.review_id, response)
        verdict = {**response.model_dump(), "review_id": request.review_id}
        answer: str | None = state.get(answer_key)
        if response.verdict == "edit":
            answer = response.edited_answer
        elif response.verdict == "reject":
            answer = rejected_answer
        return {answer_key: answer, review_key: verdict}

    return node


def review_request(
    guard_record: Mapping[str, object], *, question: object, answer: object
) -> ReviewRequest:
    """What a reviewer is shown of the guard's record for ``question`` and ``answer``.

    The rule and reasons are those of the last attempt's last decision that did not continue.
    """
    record: Mapping[str, Any] = guard_record  # the record's JSON shape, read by key below
    attempts = record.get("attempts") or []
    last = attempts[-1] if attempts else {}
    decisions = last.get("decisions") or []
    low: Mapping[str, Any] = next(
        (d for d in reversed(decisions) if d["action"]["type"] != "continue"), {}
    )
    return ReviewRequest(
        question=str(question or ""),
        answer=str(answer or ""),
        confidence=record.get("final_confidence"),
        status=str(record.get("status")),
        partial=bool(last.get("partial", False)),
        review_id=record.get("review_id"),
        rule=low.get("rule"),
        reasons=list(low.get("reasons") or []),
        attempts=len(attempts),
    )


def record_verdict(queue: Any, review_id: str, response: ReviewResponse) -> None:
    """Record ``response`` on review item ``review_id`` of ``queue``; a repeat is a no-op.

    An item already decided the same way (the node re-ran after the verdict was recorded) is
    left alone; one decided differently elsewhere raises, since the queue and graph disagree.
    """
    from guardrail.review import AlreadyDecidedError

    try:
        queue.decide(
            review_id, response.verdict, response.reviewer, response.edited_answer, response.note
        )
    except AlreadyDecidedError:
        item = queue.get(review_id)
        decision = item.decision
        if decision is None or decision.verdict.value != response.verdict:
            raise  # decided differently elsewhere: the queue and the graph disagree


def add_guarded_review(
    builder: Any,
    *,
    guarded: Runnable[Any, Any],
    guard_node: str = "guarded",
    review_node: str = "human_review",
    then: str = END,
    queue: Any = None,
    review_below: float | None = None,
    question_key: str = "question",
    answer_key: str = "answer",
    result_key: str = "guardrail",
    review_key: str = "review",
) -> Any:
    """Add the guarded node and the review node to a ``StateGraph`` builder, wired together.

    ``guard_node`` routes to ``review_node`` when :func:`needs_review` holds and to ``then``
    otherwise; ``review_node`` goes to ``then``. Add the edge into ``guard_node`` yourself.
    Returns the builder.
    """
    builder.add_node(
        guard_node,
        guarded_node(
            guarded,
            question_key=question_key,
            answer_key=answer_key,
            result_key=result_key,
            review_below=review_below,
        ),
    )
    builder.add_node(
        review_node,
        human_review_node(
            question_key=question_key,
            answer_key=answer_key,
            result_key=result_key,
            review_key=review_key,
            queue=queue,
        ),
    )

    def route(state: Mapping[str, Any]) -> str:
        return review_node if needs_review(state, result_key) else then

    builder.add_conditional_edges(guard_node, route, [review_node, then])
    builder.add_edge(review_node, then)
    return builder
