"""Ray Serve: equal to in-process, 32 concurrent guarded streams, a replica killed mid-run.

The cluster (2 CPUs, two replicas of the tiny random scorer) starts once per session; the
tests here run in file order and the replica-killing test comes last.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from serve_token import SERVE_TOKEN, SERVE_TOKEN_ENV

from guardrail.audit import JsonlAuditLog
from guardrail.errors import GuardSignal
from guardrail.runtime import GuardConfig
from guardrail.scorers.remote import RemoteScorer
from guardrail.testing import FakeStreamingChatModel

QUESTION = "Tom has 3 apples and buys 5 more. How many apples?"
ANSWER = "Tom starts with 3.\nHe buys 5 more, so 3 + 5 = 8.\n\nThe answer is 8."
STREAMS = 32
Settings = tuple[dict[str, Any], Any, Any]  # (policy, scorer, scoring) shared by the streams


def policy(url: str | None, budget_s: float) -> dict[str, Any]:
    scorer: dict[str, Any] = {"latency_budget_s": budget_s}
    if url is not None:
        scorer.update(url=url, engine="ray", api_key_env=SERVE_TOKEN_ENV)
    return {
        "name": "serve-test",
        "scorer": scorer,
        "checkpoints": {
            "strategies": [{"type": "paragraph"}],
            "min_gap": 0,
            "score_question": True,
            "score_outcome": True,
        },
        "on_error": "fail_closed",
        "rules": [
            {"name": "never", "when": {"confidence_below": 0.0001}, "action": {"type": "abort"}}
        ],
        "default_action": "continue",
    }


def answer(n: int) -> str:
    return "".join(f"Step {k} of stream {n}: {k} + {n} = {k + n}.\n" for k in range(4)) + f"So {n}."


def test_results_equal_the_in_process_scorer(ray_scorer_url: str, in_process: Any) -> None:
    remote = RemoteScorer(ray_scorer_url, "ray", latency_budget_s=60.0, api_key_env=SERVE_TOKEN_ENV)
    pairs = [(QUESTION, ANSWER[:n]) for n in (0, 10, 30, len(ANSWER))]
    assert remote.score_batch(pairs) == pytest.approx(in_process.score_batch(pairs), abs=1e-3)
    session = remote.open_session(QUESTION)
    local = in_process.open_session(QUESTION)
    for start in range(0, len(ANSWER), 9):
        session.append(ANSWER[start : start + 9])
        local.append(ANSWER[start : start + 9])
        assert session.score() == pytest.approx(local.score(), abs=1e-3)
    assert session.entropy() == pytest.approx(local.entropy(), abs=1e-3)
    remote.close()


def test_a_policy_with_a_url_gets_a_remote_scorer(ray_scorer_url: str) -> None:
    config = GuardConfig(policy(ray_scorer_url, 30.0))
    assert isinstance(config.scorer, RemoteScorer)
    assert config.scorer.latency_budget_s == 30.0
    config.scorer.close()


AUTHORIZED = {"Authorization": f"Bearer {SERVE_TOKEN}"}


def test_a_bad_request_is_a_client_error_that_is_not_retried(ray_scorer_url: str) -> None:
    import httpx

    response = httpx.post(
        f"{ray_scorer_url}/score", json={"items": []}, headers=AUTHORIZED, timeout=60.0
    )
    assert response.status_code == 400
    assert "bad /score request" in response.json()["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token-at-all"}])
def test_a_request_without_the_token_is_refused(
    ray_scorer_url: str, headers: dict[str, str]
) -> None:
    import httpx

    item = {"question": "q", "answer": "a"}
    response = httpx.post(
        f"{ray_scorer_url}/score", json={"items": [item]}, headers=headers, timeout=60.0
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_too_many_items_and_too_large_bodies_are_413(ray_scorer_url: str) -> None:
    import httpx

    from guardrail.serving.admission import ServeLimits

    limits = ServeLimits()
    many = {"items": [{"question": "q"}] * (limits.max_items + 1)}
    large = {"items": [{"question": "q", "answer": "x" * limits.max_body_bytes}]}
    for body in (many, large):
        response = httpx.post(
            f"{ray_scorer_url}/score", json=body, headers=AUTHORIZED, timeout=60.0
        )
        assert response.status_code == 413
        assert "request too large" in response.json()["error"]


def test_a_body_that_never_comes_is_not_held_open(ray_scorer_url: str) -> None:
    import socket
    from urllib.parse import urlsplit

    from guardrail.serving.admission import ServeLimits

    timeout_s = ServeLimits().body_timeout_s
    where = urlsplit(ray_scorer_url)
    head = (
        f"POST /score HTTP/1.1\r\nHost: {where.hostname}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {SERVE_TOKEN}\r\nContent-Length: 100000\r\n\r\n"
        '{"items": ['
    )
    with socket.create_connection((where.hostname, where.port), timeout=timeout_s * 6) as sock:
        sock.sendall(head.encode())
        started = time.monotonic()
        answer = sock.recv(4096).decode(errors="replace")
        elapsed = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert elapsed < timeout_s * 3


def _run_langchain(n: int, settings: Settings, audit_dir: Path, delay_s: float) -> dict[str, Any]:
    from guardrail.integrations.langchain import guard

    model = FakeStreamingChatModel(responses=[answer(n)], delay_s=delay_s)
    audit = JsonlAuditLog(audit_dir / f"lc-{n}.jsonl")
    config = GuardConfig(settings[0], settings[1], audit=audit, scoring=settings[2])
    guarded = guard(model, config)
    try:
        result = guarded.invoke(f"Question {n}: what is the sum?")
    except GuardSignal as signal:
        return {"status": "aborted", "signal": signal, "audit": audit.path}
    return {"status": result.status, "confidence": result.final_confidence, "audit": audit.path}


def _run_litellm(n: int, settings: Settings, audit_dir: Path, delay_s: float) -> dict[str, Any]:
    from guardrail.integrations.litellm import guarded_completion

    audit = JsonlAuditLog(audit_dir / f"lt-{n}.jsonl")
    config = GuardConfig(settings[0], settings[1], audit=audit, scoring=settings[2])
    messages = [{"role": "user", "content": f"Question {n}: what is the sum?"}]
    try:
        result = guarded_completion(
            "openai/fake-model",
            messages,
            policy=config,
            mock_response=answer(n),
        )
    except GuardSignal as signal:
        return {"status": "aborted", "signal": signal, "audit": audit.path}
    return {"status": result.status, "confidence": result.final_confidence, "audit": audit.path}


def _run_all(
    url: str | None,
    scorer: Any,
    audit_dir: Path,
    budget_s: float,
    delay_s: float = 0.0,
    scoring: Any = None,
) -> tuple[list[dict[str, Any]], float]:
    audit_dir.mkdir(parents=True, exist_ok=True)
    rules = policy(url, budget_s)
    if scorer is None:
        scorer = GuardConfig(rules).scorer  # built from the policy's scorer.url
    settings: Settings = (rules, scorer, scoring)
    jobs = [(_run_langchain if n % 2 == 0 else _run_litellm, n) for n in range(STREAMS)]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=STREAMS) as pool:
            futures = [pool.submit(job, n, settings, audit_dir, delay_s) for job, n in jobs]
            results = [future.result(timeout=600) for future in futures]  # none may hang
    finally:
        if isinstance(scorer, RemoteScorer):
            scorer.close()
    return results, time.monotonic() - started


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _checkpoint_confidences(path: Path) -> list[float]:
    return [r["payload"]["confidence"] for r in _audit(path) if r["kind"] == "checkpoint"]


def test_32_concurrent_guarded_streams_equal_in_process(
    ray_scorer_url: str, in_process: Any, tmp_path: Path
) -> None:
    from guardrail.scoring_worker import ScoringWorker

    served, _ = _run_all(ray_scorer_url, None, tmp_path / "served", budget_s=120.0)
    # The process's default worker counts as behind from 32 queued jobs, and 32 streams
    # starting at once on a loaded machine reach that: the policy's overload (skip_process)
    # would then leave process checkpoints unscored. This test compares values, so the local
    # worker's backlog is sized for every stream; skipping is tested in test_scoring_worker.
    worker = ScoringWorker(in_process, max_backlog=STREAMS * 8)
    local, _ = _run_all(None, in_process, tmp_path / "local", budget_s=120.0, scoring=worker)
    assert [r["status"] for r in served] == ["ok"] * STREAMS
    assert [r["status"] for r in local] == ["ok"] * STREAMS
    for remote_run, local_run in zip(served, local, strict=True):
        for run in (remote_run, local_run):
            records = _audit(run["audit"])
            overloads = [r for r in records if r["payload"].get("action") == "overload"]
            assert not overloads, (run["audit"].name, overloads)
        remote_scores = _checkpoint_confidences(remote_run["audit"])
        local_scores = _checkpoint_confidences(local_run["audit"])
        assert len(remote_scores) >= 3  # question, paragraphs, outcome
        assert remote_scores == pytest.approx(local_scores, abs=1e-3)


def test_a_replica_killed_mid_run_ends_every_stream(ray_scorer_url: str, tmp_path: Path) -> None:
    import ray

    from guardrail.serving.ray_app import replica_actor_names

    victims = replica_actor_names()
    assert len(victims) == 2

    def kill_one() -> None:
        time.sleep(1.0)
        ray.kill(ray.get_actor(victims[0], namespace="serve"), no_restart=True)

    with ThreadPoolExecutor(max_workers=1) as killer:
        killed = killer.submit(kill_one)
        results, _ = _run_all(ray_scorer_url, None, tmp_path, budget_s=20.0, delay_s=0.05)
        killed.result(timeout=60)
    for result in results:
        records = _audit(result["audit"])
        kinds = [r["kind"] for r in records]
        errors = [r for r in records if r["kind"] == "error"]
        if result["status"] == "aborted":
            # the policy's on_error outcome, and the audit log says the scorer failed
            assert errors, kinds
            assert any(r["payload"].get("source") == "scorer" for r in errors)
            decisions = [r["payload"] for r in records if r["kind"] == "decision"]
            assert decisions[-1]["action"]["type"] == "abort"
        else:
            assert result["status"] == "ok"
            assert not [r for r in errors if r["payload"].get("source") == "scorer"], kinds
        assert "run_end" in kinds
