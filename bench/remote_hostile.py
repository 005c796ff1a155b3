"""How long a hostile scorer service can hold a RemoteScorer call, one JSON object.

    python bench/remote_hostile.py --budget 1.0 --trickle-s 8

Against :class:`guardrail.testing.hostile.HostileScorerService` on 127.0.0.1, each behaviour
(a trickle of one byte every 0.4 s, a hang, a body sent late, garbage, NaN, a 404 echoing the
headers) is called once with the deadline transport (what ``RemoteScorer`` uses) and once with
httpx's own transport (per-operation timeouts only, as before issue 26), and the elapsed
seconds and outcome of each are reported. ``held_over_budget`` is elapsed / budget. Every
figure is measured in this run; ``machine`` says where and under what load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import httpx

from guardrail.scorers.remote import RemoteScorer
from guardrail.testing.hostile import HostileScorerService, Reply


def behaviours(trickle_s: float) -> dict[str, Reply]:
    """The hostile replies, each lasting about ``trickle_s`` seconds if let run."""
    interval = 0.4
    body = b'{"values": [0.5]}'
    return {
        "trickle": Reply.trickle(body.ljust(int(trickle_s / interval)), interval_s=interval),
        "hang": Reply.hang(),
        "slow_body": Reply.slow_body(body, delay_s=trickle_s),
        "garbage": Reply.raw("<html>502 Bad Gateway</html>", content_type="text/html"),
        "nan": Reply.values("NaN"),
        "echo_404": Reply.echo_headers(404),
    }


def call(reply: Reply, budget: float, plain: bool) -> dict[str, Any]:
    """One score against ``reply``: elapsed seconds and what came of it."""
    with HostileScorerService([reply]) as svc:
        transport = httpx.HTTPTransport() if plain else None
        scorer = RemoteScorer(
            svc.url, "ray", latency_budget_s=budget, max_attempts=1, transport=transport
        )
        started = time.monotonic()
        try:
            outcome = f"value {scorer.score('q', 'a')}"
        except Exception as exc:
            outcome = type(exc).__name__
        elapsed = time.monotonic() - started
        scorer.close()
    return {"elapsed_s": round(elapsed, 3), "held_over_budget": round(elapsed / budget, 2),
            "outcome": outcome}  # fmt: skip


def main() -> None:
    """Run every behaviour with both transports and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=1.0, help="latency budget, seconds")
    parser.add_argument("--trickle-s", type=float, default=8.0, help="how long a stall lasts")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = {
        name: {
            "deadline": call(reply, args.budget, plain=False),
            "httpx_timeouts_only": call(reply, args.budget, plain=True),
        }
        for name, reply in behaviours(args.trickle_s).items()
    }
    report = {
        "budget_s": args.budget,
        "stall_s": args.trickle_s,
        "results": results,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
