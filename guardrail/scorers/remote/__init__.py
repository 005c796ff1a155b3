"""RemoteScorer: the :class:`~guardrail.scorers.base.Scorer` protocol over HTTP.

The protocol is stateless: every checkpoint sends the question and the whole answer so far
(token ids to the engines that take them), so any replica can answer any request and a lost
cache costs time, never correctness. Reusing work between a stream's checkpoints is the
engine's business: Ray Serve routes a stream to the replica holding its KV cache, SGLang's
radix cache and vLLM's prefix cache match the shared prefix. See
:mod:`guardrail.scorers.remote.engines` for the three engines' APIs.

A call's latency budget is end to end (connection, retries, queueing on the server): past it
the call raises :class:`~guardrail.errors.ScorerTimeoutError`; connection errors, 5xx and 429
are retried within it; everything else raises :class:`RemoteScorerError`. The guard turns
both into the policy's ``on_error`` outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, assert_never

from guardrail.errors import GuardrailConfigError, ScorerUnavailableError
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
ENGINES: tuple[Engine, ...] = ("ray", "sglang", "vllm")


class RemoteScorer:
    """Scores through a scorer service at ``url`` (``engine``: ``ray``, ``sglang``, ``vllm``).

    ``adapter`` is the LoRA adapter's name on SGLang and vLLM; ``model`` the scorer reference
    whose tokenizer builds the token ids and whose calibration map is applied to the engines'
    raw readout (the Ray application applies its own scorer's map). ``latency_budget_s``
    bounds every call end to end. ``transport`` replaces the network (tests).
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
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise GuardrailConfigError(
                f"scorer url must start with http:// or https://, got {url!r}"
            )
        if engine not in ENGINES:
            raise GuardrailConfigError(
                f"unknown scorer engine {engine!r}; valid: {', '.join(ENGINES)}"
            )
        if not latency_budget_s > 0:
            raise GuardrailConfigError(f"latency_budget_s must be > 0, got {latency_budget_s}")
        self.url = url
        self.engine: Engine = engine
        self.adapter = adapter
        self.model = model
        self.latency_budget_s = latency_budget_s
        self._name = name or f"{engine}:{model}@{url}"
        self.http = HttpTransport(
            url,
            transport=transport,
            max_connections=max_connections,
            max_attempts=max_attempts,
            connect_timeout_s=connect_timeout_s,
        )
        self._tokens = tokens
        # built now (SGLang and vLLM load the tokenizer), not inside a timed checkpoint
        self.client: EngineClient = self._build_client()

    @property
    def name(self) -> str:
        """Identifier used in events and audit records."""
        return self._name

    def _build_client(self) -> EngineClient:
        match self.engine:
            case "ray":
                return RayClient()
            case "sglang":
                return SGLangClient(self._tokens or _prompt_tokens(self.model), self.adapter)
            case "vllm":
                return VLLMClient(self._tokens or _prompt_tokens(self.model), self.adapter)
            case _:
                assert_never(self.engine)

    # -------------------------------------------------------------------- scoring
    def score(self, question: str, answer: str = "") -> float:
        """Confidence in [0, 1] for the question plus the (partial or complete) answer."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score many pairs in one call; same results as one by one."""
        if not pairs:
            return []
        items = [Checkpoint(q, a) for q, a in pairs]
        return self.client.confidences(self.http, items, self.latency_budget_s)

    def score_checkpoint(self, item: Checkpoint) -> float:
        """One checkpoint of a stream (its id routes it to the replica that has its cache)."""
        return self.client.confidences(self.http, [item], self.latency_budget_s)[0]

    def entropy(self, item: Checkpoint) -> float | None:
        """The scorer LM's next-token entropy after the checkpoint's text, if the engine has it."""
        return self.client.entropy(self.http, item, self.latency_budget_s)

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


def _prompt_tokens(model: str) -> PromptTokens:
    from guardrail.scorers.finece import artifact_calibration
    from guardrail.scorers.remote.tokens import PromptTokens, load_tokenizer

    tokenizer = load_tokenizer(model)
    return PromptTokens.for_tokenizer(tokenizer, calibration=artifact_calibration(model))


def remote_scorer(model: str, **options: Any) -> RemoteScorer:
    """``create_scorer(model, backend="remote", url=..., engine=..., adapter=...)``."""
    url = options.pop("url", None)
    if not isinstance(url, str):
        raise GuardrailConfigError("the remote scorer backend needs url='http://host:port'")
    options.pop("device", None)  # the service decides where it runs
    return RemoteScorer(url, model=model, **options)
