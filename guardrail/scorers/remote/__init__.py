"""RemoteScorer: the :class:`~guardrail.scorers.base.Scorer` protocol over HTTP.

The protocol is stateless: every checkpoint sends the question and the whole answer so far
(token ids to the engines that take them), so any replica can answer any request and a lost
cache costs time, never correctness. Reusing work between a stream's checkpoints is the
engine's business: Ray Serve routes a stream to the replica holding its KV cache, SGLang's
radix cache and vLLM's prefix cache match the shared prefix. See
:mod:`guardrail.scorers.remote.engines` for the three engines' APIs.

The service is an untrusted peer. A checkpoint's latency budget is one monotonic deadline
over everything (token ids built client-side, connecting, sending, retries, queueing on the
server, reading the whole answer): past it the call raises
:class:`~guardrail.errors.ScorerTimeoutError` and a late answer is discarded; connection
errors, 5xx and 429 are retried within it; everything else raises
:class:`RemoteScorerError`, and so does a value that is not a number in [0, 1] (NaN, an
infinity, 7.5). The guard turns both into the policy's ``on_error`` outcome. Credentials go
in headers (``headers``, or ``api_key_env`` naming an environment variable whose value is sent
as ``Authorization: Bearer``), never in the URL; the scorer's name, ``repr`` and errors show
the URL without user information or query.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, assert_never

from guardrail.errors import GuardrailConfigError, ScorerUnavailableError
from guardrail.redaction import bounded, printable, safe_url
from guardrail.scorers.prompt import DEFAULT_MAX_INPUT_TOKENS
from guardrail.scorers.remote.engines import (
    Checkpoint,
    EngineClient,
    RayClient,
    SGLangClient,
    VLLMClient,
)
from guardrail.scorers.remote.transport import HttpTransport, RemoteScorerError

if TYPE_CHECKING:
    import httpx

    from guardrail.scorers.remote.tokens import PromptTokens

__all__ = ["ENGINES", "Engine", "RemoteScorer", "RemoteScorerError", "RemoteSession"]

Engine = Literal["ray", "sglang", "vllm"]
_MAX_ERROR = 1000
ENGINES: tuple[Engine, ...] = ("ray", "sglang", "vllm")


class RemoteScorer:
    """Scores through a scorer service at ``url`` (``engine``: ``ray``, ``sglang``, ``vllm``).

    ``adapter`` is the LoRA adapter's name on SGLang and vLLM; ``model`` the scorer reference
    whose tokenizer builds the token ids and whose calibration map is applied to the engines'
    raw readout (the Ray application applies its own scorer's map). ``latency_budget_s``
    bounds every call end to end. ``headers`` are sent with every call; ``api_key_env`` names
    an environment variable (read now; unset or empty is a configuration error) whose value is
    sent as ``Authorization: Bearer`` (``guardrail serve --token-env``). ``max_input_tokens``
    bounds the token ids sent to SGLang and vLLM as it bounds the in-process scorer's input
    (the Ray application bounds its own). ``score_batch`` sends at most ``max_batch_items``
    checkpoints per call (``guardrail serve --max-items``). ``transport`` replaces the
    network (tests).
    """

    def __init__(
        self,
        url: str,
        engine: Engine = "ray",
        *,
        adapter: str = "finece",
        model: str = "builtin:finece-smollm2",
        latency_budget_s: float = 2.0,
        name: str | None = None,
        tokens: PromptTokens | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 64,
        max_attempts: int = 4,
        connect_timeout_s: float = 2.0,
        headers: Mapping[str, str] | None = None,
        api_key_env: str | None = None,
        max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
        max_batch_items: int = 256,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise GuardrailConfigError(
                f"scorer url must start with http:// or https://, got {safe_url(url)!r}"
            )
        if engine not in ENGINES:
            raise GuardrailConfigError(
                f"unknown scorer engine {engine!r}; valid: {', '.join(ENGINES)}"
            )
        if not latency_budget_s > 0:
            raise GuardrailConfigError(f"latency_budget_s must be > 0, got {latency_budget_s}")
        if max_batch_items < 1:
            raise GuardrailConfigError(f"max_batch_items must be >= 1, got {max_batch_items}")
        self.max_batch_items = max_batch_items
        self.engine: Engine = engine
        self.adapter = adapter
        self.model = model
        self.latency_budget_s = latency_budget_s
        sent = dict(headers or {})
        if api_key_env is not None:
            sent["Authorization"] = f"Bearer {_api_key(api_key_env)}"
        self.http = HttpTransport(
            url,
            transport=transport,
            max_connections=max_connections,
            max_attempts=max_attempts,
            connect_timeout_s=connect_timeout_s,
            headers=sent,
        )
        self.url = self.http.display_url
        self._name = name or f"{engine}:{model}@{self.url}"
        self._tokens = tokens
        self.max_input_tokens = max_input_tokens
        # built now (SGLang and vLLM load the tokenizer), not inside a timed checkpoint
        self.client: EngineClient = self._build_client()

    @property
    def name(self) -> str:
        """Identifier used in events and audit records."""
        return self._name

    def _prompt_tokens(self) -> PromptTokens:
        return _prompt_tokens(self.model, self.max_input_tokens)

    def _build_client(self) -> EngineClient:
        match self.engine:
            case "ray":
                return RayClient()
            case "sglang":
                return SGLangClient(self._tokens or self._prompt_tokens(), self.adapter)
            case "vllm":
                return VLLMClient(self._tokens or self._prompt_tokens(), self.adapter)
            case _:
                assert_never(self.engine)

    # -------------------------------------------------------------------- scoring
    def score(self, question: str, answer: str = "") -> float:
        """Confidence in [0, 1] for the question plus the (partial or complete) answer."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score many pairs, ``max_batch_items`` per call; same results as one by one.

        Every value is a number in [0, 1]; anything else the service answers is a
        :class:`RemoteScorerError`. Each call has the latency budget.
        """
        if not pairs:
            return []
        items = [Checkpoint(q, a) for q, a in pairs]
        values: list[float] = []
        for start in range(0, len(items), self.max_batch_items):  # a service bounds a request
            with self._call(None):
                chunk = items[start : start + self.max_batch_items]
                values += self.client.confidences(self.http, chunk, self.latency_budget_s)
        return values

    def score_checkpoint(self, item: Checkpoint, budget_s: float | None = None) -> float:
        """One checkpoint of a stream (its id routes it to the replica that has its cache).

        ``budget_s``, when shorter than the scorer's ``latency_budget_s``, bounds the call.
        """
        with self._call(budget_s):
            return self.client.confidences(self.http, [item], self.latency_budget_s)[0]

    def entropy(self, item: Checkpoint) -> float | None:
        """The scorer LM's next-token entropy after the checkpoint's text, if the engine has it."""
        with self._call(None):
            return self.client.entropy(self.http, item, self.latency_budget_s)

    @contextmanager
    def _call(self, budget_s: float | None) -> Iterator[None]:
        """One call: within the deadline(s), its errors scrubbed of what the peer echoed."""
        try:
            with self.http.deadline(budget_s), self.http.deadline(self.latency_budget_s):
                yield
        except RemoteScorerError as exc:
            message = bounded(printable(self.http.scrub(str(exc))), _MAX_ERROR)
            raise RemoteScorerError(message, retryable=exc.is_retryable) from None

    def open_session(self, question: str) -> RemoteSession:
        """An incremental session: appends are local, each score sends the text so far."""
        return RemoteSession(self, question)

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    def __repr__(self) -> str:
        return f"RemoteScorer(url={self.url!r}, engine={self.engine!r}, model={self.model!r})"


class RemoteSession:
    """A :class:`~guardrail.scorers.base.ScoringSession` of a :class:`RemoteScorer`."""

    def __init__(self, scorer: RemoteScorer, question: str) -> None:
        self._scorer = scorer
        self.question = question
        self.stream = uuid.uuid4().hex
        self._parts: list[str] = []
        self._closed = False

    @property
    def answer(self) -> str:
        """The answer text so far."""
        return "".join(self._parts)

    def append(self, text: str) -> None:
        """Add streamed answer text (no call)."""
        self._check_open()
        self._parts.append(text)

    def score(self) -> float:
        """Confidence for the question plus the answer so far (one call)."""
        self._check_open()
        return self._scorer.score_checkpoint(self._checkpoint())

    def score_within(self, budget_s: float | None) -> float:
        """:meth:`score`, the call ending by ``budget_s`` from now if that is sooner.

        The guard passes its own latency budget here, so the guarded call's budget holds end
        to end even when the scorer's own ``latency_budget_s`` is longer.
        """
        self._check_open()
        return self._scorer.score_checkpoint(self._checkpoint(), budget_s)

    def entropy(self) -> float | None:
        """The scorer LM's entropy after the current text (``None`` on SGLang and vLLM)."""
        self._check_open()
        return self._scorer.entropy(self._checkpoint())

    def close(self) -> None:
        """End the session (the service's cache entry ages out of its LRU)."""
        self._closed = True

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(self.question, self.answer, self.stream)

    def _check_open(self) -> None:
        if self._closed:
            raise ScorerUnavailableError("this scoring session is closed")


def _api_key(variable: str) -> str:
    """The credential in the environment variable ``variable`` (never shown in an error)."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise GuardrailConfigError(
            f"scorer api_key_env: the environment variable {variable!r} is not set or empty"
        )
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        raise GuardrailConfigError(
            f"scorer api_key_env: the value of {variable!r} is not a printable ASCII token"
        )
    return value


def _prompt_tokens(model: str, max_input_tokens: int) -> PromptTokens:
    from guardrail.scorers.finece import artifact_calibration
    from guardrail.scorers.remote.tokens import PromptTokens, load_tokenizer

    tokenizer = load_tokenizer(model)
    return PromptTokens.for_tokenizer(
        tokenizer, calibration=artifact_calibration(model), max_input_tokens=max_input_tokens
    )


def remote_scorer(model: str, **options: Any) -> RemoteScorer:
    """``create_scorer(model, backend="remote", url=..., engine=..., adapter=...)``."""
    url = options.pop("url", None)
    if not isinstance(url, str):
        raise GuardrailConfigError("the remote scorer backend needs url='http://host:port'")
    options.pop("device", None)  # the service decides where it runs
    return RemoteScorer(url, model=model, **options)
