"""Sampling through litellm: any model a user's agent really calls (OpenAI, vLLM, ...).

Each prompt is one ``litellm.completion`` request with ``n`` choices (repeated until ``n``
completions are in, for providers that return fewer); prompts run concurrently on threads, and
transient failures (rate limits, timeouts, connection errors, 5xx) are retried with exponential
backoff by tenacity. A partial answer is sent as a final assistant message to continue; the
server must support that (vLLM: pass ``extra_body={"continue_final_message": True,
"add_generation_prompt": False}`` in ``options``). ``options`` go to every request unchanged
(``api_base``, ``api_key``, ``extra_body``, ``mock_response`` in tests, ...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from guardrail.lab.data.generator import Completion, GenerationError, Message, Prompt

__all__ = ["LiteLLMGenerator"]


def _litellm() -> Any:
    from guardrail._optional import require

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    return require("litellm", "litellm")


def _retryable(exc: BaseException) -> bool:
    litellm = _litellm()
    transient = (
        litellm.RateLimitError,
        litellm.APIConnectionError,
        litellm.Timeout,
        litellm.ServiceUnavailableError,
        litellm.InternalServerError,
        litellm.BadGatewayError,
    )
    return isinstance(exc, transient)


class LiteLLMGenerator:
    """Samples completions with ``litellm.completion`` (see the module docstring)."""

    def __init__(
        self,
        model: str,
        *,
        max_workers: int = 8,
        retries: int = 4,
        use_n: bool = True,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.name = f"litellm:{model}"
        self.max_workers = max(1, max_workers)
        self.retries = max(0, retries)
        self.use_n = use_n
        self.options = dict(options or {})

    def sample(
        self,
        prompts: Sequence[Prompt],
        n: int,
        *,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[Completion]]:
        """``n`` completions per prompt (see :class:`guardrail.lab.data.generator.Generator`)."""
        settings: dict[str, Any] = {"temperature": temperature, "max_tokens": max_new_tokens}
        if stop:
            settings["stop"] = list(stop)[:4]  # the OpenAI API accepts at most four
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            futures = [
                pool.submit(
                    self._complete,
                    prompt,
                    n,
                    settings,
                    None if seed is None else seed + index,
                )
                for index, prompt in enumerate(prompts)
            ]
            return [future.result() for future in futures]

    def _complete(
        self, prompt: Prompt, n: int, settings: dict[str, Any], seed: int | None
    ) -> list[Completion]:
        messages: list[Message] = list(prompt.messages)
        if prompt.prefix:
            messages.append({"role": "assistant", "content": prompt.prefix})
        out: list[Completion] = []
        call = 0
        while len(out) < n:
            want = n - len(out) if self.use_n else 1
            request = {**settings, **self.options}
            if want > 1:
                request["n"] = want
            if seed is not None:
                request["seed"] = seed + 7919 * call  # a new stream for each repeated call
            response = self._request(messages, request)
            got = _completions(response)
            if not got:
                raise GenerationError(f"{self.name} returned no choices")
            out.extend(got)
            call += 1
        return out[:n]

    def _request(self, messages: list[Message], request: dict[str, Any]) -> Any:
        from tenacity import (
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential,
        )

        litellm = _litellm()
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=0.5, max=20),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            return retrying(
                litellm.completion,
                model=self.model,
                messages=messages,
                drop_params=True,
                **request,
            )
        except Exception as exc:
            raise GenerationError(
                f"{self.name}: {type(exc).__name__}: {exc}", retryable=_retryable(exc)
            ) from exc


def _completions(response: Any) -> list[Completion]:
    choices = list(getattr(response, "choices", None) or [])
    usage = getattr(response, "usage", None)
    total = getattr(usage, "completion_tokens", None) if usage is not None else None
    per_choice = int(total) // len(choices) if isinstance(total, int) and choices else 0
    out = []
    for choice in choices:
        text = getattr(choice.message, "content", None) or ""
        finish: Literal["stop", "length"] = "length" if choice.finish_reason == "length" else "stop"
        out.append(Completion(text=text, tokens=per_choice, finish_reason=finish))
    return out
