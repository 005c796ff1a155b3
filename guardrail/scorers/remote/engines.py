"""Request and response mapping of the three scoring engines a :class:`RemoteScorer` speaks.

* ``ray``: the project's own Ray Serve application (``guardrail serve``): text in, confidences
  (and entropies) out, one ``POST /score`` for any number of checkpoints. A stream's
  checkpoints carry its id in the ``serve_multiplexed_model_id`` header, so Ray Serve routes
  them to the replica that holds the stream's KV cache.
* ``sglang``: native ``POST /generate`` with ``input_ids`` (a batch is a list of id lists),
  ``return_logprob``, ``logprob_start_len`` three tokens before the end and
  ``token_ids_logprob`` set to the ten digit ids; ``max_new_tokens: 1``. The first-digit
  distribution comes back among the input log-probabilities
  (``meta_info.input_token_ids_logprobs``, one row per position from ``logprob_start_len``;
  the row of the ``0`` token, second to last), the tenths digit as the generated token's
  (``meta_info.output_token_ids_logprobs[0]``): both readout positions in one call, and the
  radix cache still matches the prompt up to ``logprob_start_len``.
* ``vllm``: ``POST /v1/completions`` with ``max_tokens: 1``, ``logprobs`` and
  ``logprob_token_ids`` (the digit ids) and ``return_tokens_as_token_ids``. Reading the
  first digit from the prompt would need ``prompt_logprobs``, which makes vLLM skip reading its
  prefix cache (every call re-prefills the whole prompt); instead each checkpoint is two
  prompts in the same request, one ending before the readout (its next token is the first
  digit) and one ending with ``0.`` (its next token is the tenths digit). Both share the
  prefix, so the second is a prefix-cache hit; one HTTP call, two one-token generations.

SGLang and vLLM have no entropy of the scorer LM to give (only top-k log-probabilities), so
their sessions' ``entropy()`` is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from guardrail.scorers.remote.tokens import PromptTokens
from guardrail.scorers.remote.transport import HttpTransport, RemoteScorerError

__all__ = [
    "AFFINITY_HEADER",
    "Checkpoint",
    "EngineClient",
    "RayClient",
    "SGLangClient",
    "VLLMClient",
    "checked_confidence",
]

AFFINITY_HEADER = "serve_multiplexed_model_id"
"""Ray Serve's routing header: requests with the same id go to the replica that holds it."""

Kind = Literal["confidence", "entropy"]
_LOGPROB_SLACK = 1e-4  # engines round; a log-probability above this is no probability


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One estimate to make: the question, the answer so far and the stream it belongs to."""

    question: str
    answer: str
    stream: str | None = None


class EngineClient(Protocol):
    """Maps checkpoints to one engine's HTTP API."""

    @property
    def engine(self) -> str:
        """``ray``, ``sglang`` or ``vllm``."""
        ...

    def confidences(
        self, http: HttpTransport, items: Sequence[Checkpoint], budget_s: float
    ) -> list[float]:
        """One confidence per checkpoint, in order."""
        ...

    def entropy(self, http: HttpTransport, item: Checkpoint, budget_s: float) -> float | None:
        """The scorer LM's next-token entropy after the checkpoint's text (``None``: not known)."""
        ...


def _field(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...`` or a :class:`RemoteScorerError` naming the missing field."""
    here = data
    for depth, key in enumerate(path):
        try:
            here = here[key]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(p) for p in path[: depth + 1])
            raise RemoteScorerError(
                f"malformed engine response: no field {where!r} in {str(data)[:300]}"
            ) from None
    return here


# ------------------------------------------------------------------------------- ray
class RayClient:
    """The ``guardrail serve`` application: ``POST /score`` with texts."""

    engine = "ray"

    def __init__(self, route: str = "/score") -> None:
        self.route = route

    def confidences(
        self, http: HttpTransport, items: Sequence[Checkpoint], budget_s: float
    ) -> list[float]:
        """Scores for ``items`` from one call."""
        values = self._call(http, items, "confidence", budget_s)
        return [checked_confidence(v, self.engine) for v in values]

    def entropy(self, http: HttpTransport, item: Checkpoint, budget_s: float) -> float | None:
        """The served scorer's entropy (``None`` when its backend has none)."""
        value = self._call(http, [item], "entropy", budget_s)[0]
        return None if value is None else _checked_entropy(value, self.engine)

    def _call(
        self, http: HttpTransport, items: Sequence[Checkpoint], kind: Kind, budget_s: float
    ) -> list[Any]:
        body = {
            "kind": kind,
            "items": [
                {"question": i.question, "answer": i.answer, "stream": i.stream} for i in items
            ],
        }
        streams = {i.stream for i in items}
        headers = None
        if len(streams) == 1 and None not in streams:
            headers = {AFFINITY_HEADER: str(next(iter(streams)))}
        data = http.post(self.route, body, budget_s=budget_s, headers=headers)
        values = _field(data, "values")
        if not isinstance(values, list) or len(values) != len(items):
            raise RemoteScorerError(
                f"the ray scorer answered {values!r:.200} for {len(items)} checkpoint(s)"
            )
        return values


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RemoteScorerError(f"the engine returned a non-number {what}: {value!r:.100}")
    number = float(value)
    if not math.isfinite(number):
        raise RemoteScorerError(f"the engine returned a non-finite {what}: {number!r}")
    return number


def checked_confidence(value: Any, engine: str) -> float:
    """``value`` as a confidence, or a :class:`RemoteScorerError`: a number in [0, 1].

    Booleans, strings, NaN, infinities and numbers outside [0, 1] are refused: a service
    must not be able to hand the policy a value no scorer of ours can produce.
    """
    number = _number(value, f"confidence ({engine})")
    if not 0.0 <= number <= 1.0:
        raise RemoteScorerError(
            f"the {engine} engine returned a confidence outside [0, 1]: {number!r}"
        )
    return number


def _checked_entropy(value: Any, engine: str) -> float:
    number = _number(value, f"entropy ({engine})")
    if number < 0.0:
        raise RemoteScorerError(f"the {engine} engine returned a negative entropy: {number!r}")
    return number


def _logprob(value: Any, where: str) -> float:
    """A log-probability from an engine: ``None`` is -inf; NaN, +inf and > 0 are refused."""
    if value is None:
        return float("-inf")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RemoteScorerError(f"malformed engine response: {where} logprob {value!r:.100}")
    number = float(value)
    if math.isnan(number) or number > _LOGPROB_SLACK:
        raise RemoteScorerError(
            f"the engine returned an invalid log-probability at {where}: {number!r}"
        )
    return min(number, 0.0)


def _token_id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RemoteScorerError(f"malformed engine response: {where} token id {value!r:.100}")
    text = str(value)
    if not text.lstrip("-").isdigit() or len(text) > 12:
        raise RemoteScorerError(f"malformed engine response: {where} token id {value!r:.100}")
    return int(text)


# ---------------------------------------------------------------------------- sglang
class SGLangClient:
    """SGLang's native ``/generate`` with token ids and digit log-probabilities."""

    engine = "sglang"

    def __init__(self, tokens: PromptTokens, adapter: str | None = "finece") -> None:
        self.tokens = tokens
        self.adapter = adapter

    def request(self, items: Sequence[Checkpoint]) -> dict[str, Any]:
        """The ``/generate`` body scoring ``items`` in one batch."""
        ids = [self.tokens.ids(i.question, i.answer, i.stream) for i in items]
        digits = list(self.tokens.digit_ids)
        body: dict[str, Any] = {
            "input_ids": ids,
            "sampling_params": {"max_new_tokens": 1, "temperature": 0.0},
            "return_logprob": True,
            # rows from here: [None, row of "0" (first digit), row of "."]
            "logprob_start_len": [len(row) - 3 for row in ids],
            "token_ids_logprob": [digits for _ in ids],
            "return_text_in_logprobs": False,
        }
        if self.adapter:
            body["lora_path"] = [self.adapter for _ in ids]
        return body

    def parse(self, data: Any, count: int) -> list[float]:
        """Confidences from a ``/generate`` answer (a list, one entry per prompt)."""
        results = data if isinstance(data, list) else [data]
        if len(results) != count:
            raise RemoteScorerError(f"SGLang answered {len(results)} results for {count} prompts")
        values = []
        for result in results:
            rows = _field(result, "meta_info", "input_token_ids_logprobs")
            first = _sglang_row(_field(rows, -2), "input_token_ids_logprobs[-2]")
            out = _field(result, "meta_info", "output_token_ids_logprobs", 0)
            tenths = _sglang_row(out, "output_token_ids_logprobs[0]")
            values.append(checked_confidence(self.tokens.confidence(first, tenths), "sglang"))
        return values

    def confidences(
        self, http: HttpTransport, items: Sequence[Checkpoint], budget_s: float
    ) -> list[float]:
        """Scores for ``items`` from one ``/generate`` call."""
        return self.parse(
            http.post("/generate", self.request(items), budget_s=budget_s), len(items)
        )

    def entropy(self, http: HttpTransport, item: Checkpoint, budget_s: float) -> float | None:
        """Not available from SGLang's top-k log-probabilities."""
        return None


def _sglang_row(row: Any, where: str) -> dict[int, float]:
    """``[[logprob, token_id, text], ...]`` as ``{token_id: logprob}``."""
    if not isinstance(row, list):
        raise RemoteScorerError(f"malformed SGLang response: {where} is {row!r:.100}")
    found: dict[int, float] = {}
    for entry in row:
        if not isinstance(entry, list | tuple) or len(entry) < 2:
            raise RemoteScorerError(f"malformed SGLang response: {where} entry {entry!r:.100}")
        found[_token_id(entry[1], where)] = _logprob(entry[0], where)
    return found


# ------------------------------------------------------------------------------ vllm
class VLLMClient:
    """vLLM's ``/v1/completions``: two one-token prompts per checkpoint, no prompt logprobs."""

    engine = "vllm"

    def __init__(self, tokens: PromptTokens, adapter: str = "finece", top_logprobs: int = 20):
        self.tokens = tokens
        self.adapter = adapter
        self.top_logprobs = top_logprobs

    def request(self, items: Sequence[Checkpoint]) -> dict[str, Any]:
        """The ``/v1/completions`` body: per checkpoint, the prompt before and after ``0.``."""
        prompts: list[list[int]] = []
        readout = len(self.tokens.prompt.readout_ids)
        for item in items:
            full = self.tokens.ids(item.question, item.answer, item.stream)
            prompts.extend([full[:-readout], full])
        return {
            "model": self.adapter,
            "prompt": prompts,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": self.top_logprobs,
            "logprob_token_ids": list(self.tokens.digit_ids),
            "return_tokens_as_token_ids": True,
        }

    def parse(self, data: Any, count: int) -> list[float]:
        """Confidences from a completions answer (choices matched by ``index``)."""
        choices = _field(data, "choices")
        if not isinstance(choices, list) or len(choices) != 2 * count:
            raise RemoteScorerError(
                f"vLLM answered {len(choices) if isinstance(choices, list) else choices!r} "
                f"choices for {2 * count} prompts"
            )
        by_index = {
            _token_id(_field(choice, "index"), "choices[].index"): choice for choice in choices
        }
        values = []
        for n in range(count):
            first = _vllm_top(by_index, 2 * n)
            tenths = _vllm_top(by_index, 2 * n + 1)
            values.append(checked_confidence(self.tokens.confidence(first, tenths), "vllm"))
        return values

    def confidences(
        self, http: HttpTransport, items: Sequence[Checkpoint], budget_s: float
    ) -> list[float]:
        """Scores for ``items`` from one ``/v1/completions`` call."""
        body = self.request(items)
        return self.parse(http.post("/v1/completions", body, budget_s=budget_s), len(items))

    def entropy(self, http: HttpTransport, item: Checkpoint, budget_s: float) -> float | None:
        """Not available from vLLM's top-k log-probabilities."""
        return None


def _vllm_top(choices: Mapping[int, Any], index: int) -> dict[int, float]:
    """``choices[index].logprobs.top_logprobs[0]`` (keys ``token_id:N``) as ``{id: logprob}``."""
    if index not in choices:
        raise RemoteScorerError(f"malformed vLLM response: no choice with index {index}")
    top = _field(choices[index], "logprobs", "top_logprobs", 0)
    if not isinstance(top, Mapping):
        raise RemoteScorerError(f"malformed vLLM response: top_logprobs[0] is {top!r:.100}")
    found: dict[int, float] = {}
    for key, logprob in top.items():
        token = str(key).removeprefix("token_id:")
        if not token.lstrip("-").isdigit() or len(token) > 12:
            raise RemoteScorerError(
                f"vLLM returned token {key!r} instead of 'token_id:N': the server ignored "
                "return_tokens_as_token_ids (supported since vLLM 0.6)"
            )
        found[int(token)] = _logprob(logprob, f"choice {index}")
    return found
