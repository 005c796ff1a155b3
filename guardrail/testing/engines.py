"""Fake SGLang and vLLM servers answering from a local model, in the engines' own JSON shapes.

``FakeSGLang(model)`` answers ``POST /generate`` and ``FakeVLLM(model)`` ``POST
/v1/completions`` the way the real servers do for the fields a
:class:`~guardrail.scorers.remote.RemoteScorer` sends (token ids in, digit log-probabilities
out), computing the log-probabilities with a transformers causal LM. Pass one as
``httpx.MockTransport(fake)`` to ``RemoteScorer(transport=...)``: the request and response
mapping is then tested against the real readout of the same model. ``requests`` keeps every
request body.

Shapes (SGLang 0.5 ``/generate``; vLLM OpenAI-compatible completions):

* SGLang: a list of ``{"text", "output_ids", "meta_info": {"id", "finish_reason",
  "prompt_tokens", "completion_tokens", "cached_tokens", "input_token_logprobs",
  "output_token_logprobs", "input_token_ids_logprobs", "output_token_ids_logprobs"}}``;
  logprob entries are ``[logprob, token_id, text_or_null]``; the input rows start at
  ``logprob_start_len`` and the first of them is ``null`` (no logits before it are computed).
* vLLM: ``{"id", "object": "text_completion", "created", "model", "choices": [{"index",
  "text", "logprobs": {"text_offset", "token_logprobs", "tokens", "top_logprobs"},
  "finish_reason", "stop_reason", "prompt_logprobs"}], "usage"}``; with
  ``return_tokens_as_token_ids`` tokens read ``token_id:N``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["FakeSGLang", "FakeVLLM"]


class _FakeEngine:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []

    def _logprobs(self, ids: list[int]) -> Any:
        import torch

        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
        return torch.log_softmax(logits, dim=-1)

    def __call__(self, request: Any) -> Any:
        import httpx

        body = json.loads(request.content)
        self.requests.append(body)
        status, payload = self.answer(request.url.path, body)
        return httpx.Response(status, json=payload)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        raise NotImplementedError


class FakeSGLang(_FakeEngine):
    """``POST /generate`` with ``input_ids``, ``return_logprob``, ``token_ids_logprob``."""

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """The status and JSON SGLang would send."""
        if path != "/generate":
            return 404, {"detail": "Not Found"}
        batch = body["input_ids"]
        single = bool(batch) and isinstance(batch[0], int)
        rows = [batch] if single else batch
        starts = body.get("logprob_start_len", -1)
        wanted = body.get("token_ids_logprob")
        results = []
        for n, ids in enumerate(rows):
            start = starts if isinstance(starts, int) else starts[n]
            ids_wanted = wanted if wanted is None or isinstance(wanted[0], int) else wanted[n]
            results.append(self._one(ids, start, ids_wanted, n))
        return 200, results[0] if single else results

    def _one(self, ids: list[int], start: int, wanted: list[int] | None, n: int) -> Any:
        logp = self._logprobs(ids)
        start = len(ids) - 1 if start < 0 else start
        generated = int(logp[-1].argmax())
        input_rows: list[Any] = [None]
        input_token: list[Any] = [[None, ids[start], None]]
        for position in range(start + 1, len(ids)):
            dist = logp[position - 1]
            input_token.append([float(dist[ids[position]]), ids[position], None])
            if wanted is not None:
                input_rows.append([[float(dist[t]), t, None] for t in wanted])
        meta: dict[str, Any] = {
            "id": f"fake-{n}",
            "finish_reason": {"type": "length", "length": 1},
            "prompt_tokens": len(ids),
            "completion_tokens": 1,
            "cached_tokens": 0,
            "input_token_logprobs": input_token,
            "output_token_logprobs": [[float(logp[-1, generated]), generated, None]],
        }
        if wanted is not None:
            meta["input_token_ids_logprobs"] = input_rows
            meta["output_token_ids_logprobs"] = [[[float(logp[-1, t]), t, None] for t in wanted]]
        return {"text": "", "output_ids": [generated], "meta_info": meta}


class FakeVLLM(_FakeEngine):
    """``POST /v1/completions`` with token-id prompts, ``logprobs``, ``logprob_token_ids``."""

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """The status and JSON vLLM would send."""
        if path != "/v1/completions":
            return 404, {"detail": "Not Found"}
        if body.get("max_tokens") != 1 or body.get("prompt_logprobs"):
            return 400, {
                "error": {"message": "fake vLLM: only max_tokens=1 without prompt logprobs"}
            }
        prompts = body["prompt"]
        prompts = [prompts] if prompts and isinstance(prompts[0], int) else prompts
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        wanted = body.get("logprob_token_ids")
        choices = []
        for index, ids in enumerate(prompts):
            last = self._logprobs(ids)[-1]
            generated = int(last.argmax())
            ids_shown = (
                list(wanted) if wanted else last.topk(int(body["logprobs"])).indices.tolist()
            )
            top = {_token(t, as_ids): float(last[t]) for t in [generated, *ids_shown]}
            choices.append(
                {
                    "index": index,
                    "text": "",
                    "logprobs": {
                        "text_offset": [0],
                        "token_logprobs": [float(last[generated])],
                        "tokens": [_token(generated, as_ids)],
                        "top_logprobs": [top],
                    },
                    "finish_reason": "length",
                    "stop_reason": None,
                    "prompt_logprobs": None,
                }
            )
        usage = {"prompt_tokens": sum(map(len, prompts)), "completion_tokens": len(prompts)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return 200, {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": 0,
            "model": body.get("model"),
            "choices": choices,
            "usage": usage,
        }


def _token(token_id: int, as_ids: bool) -> str:
    return f"token_id:{token_id}" if as_ids else f"<{token_id}>"
