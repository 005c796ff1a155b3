"""``guardrail serve``: the scorer as a shared service (Ray Serve), or the GPU engines' lines."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import Any

from guardrail.serving.admission import DEFAULT_TOKEN_ENV


def register(sub: Any) -> None:
    """Add the ``serve`` sub-command."""
    parser = sub.add_parser(
        "serve",
        help="serve the scorer to many guarded processes (Ray Serve; SGLang/vLLM lines)",
        description=(
            "Deploy a scorer as a Ray Serve application (POST /score) that guarded processes "
            "reach with `scorer: {url: http://HOST:PORT, engine: ray}` in their policy. "
            "--print-engine-command prints the SGLang or vLLM launch line instead."
        ),
    )
    parser.add_argument("--model", default="builtin:finece-smollm2", help="scorer reference")
    parser.add_argument("--backend", default="auto", help="create_scorer backend")
    parser.add_argument("--factory", help="module:callable returning a scorer (instead of --model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--num-cpus", type=float, default=1.0, help="CPUs per replica")
    parser.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per replica")
    parser.add_argument("--address", help="join this Ray cluster instead of starting one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-streams", type=int, default=256, help="KV sessions per replica")
    parser.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        metavar="NAME",
        help="environment variable holding the shared secret clients must send as "
        "`Authorization: Bearer` (their policies: scorer.api_key_env); unset: no authentication "
        f"(default: {DEFAULT_TOKEN_ENV})",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=8 * 1024 * 1024, help="largest request body (413)"
    )
    parser.add_argument(
        "--max-items", type=int, default=256, help="most checkpoints in one request (413)"
    )
    parser.add_argument(
        "--body-timeout-s",
        type=float,
        default=10.0,
        help="time to receive a request body (408 past it)",
    )
    parser.add_argument(
        "--request-timeout-s",
        type=float,
        default=120.0,
        help="Ray Serve's bound on a whole request at its proxy",
    )
    parser.add_argument(
        "--print-engine-command",
        choices=["sglang", "vllm"],
        help="print the engine's launch line for --model and exit",
    )
    parser.add_argument("--adapter", default="finece", help="adapter name on SGLang/vLLM")
    parser.add_argument("--dtype", default="auto", help="engine dtype (float32 to compare)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print an engine line, or deploy and serve until interrupted."""
    if args.print_engine_command:
        from guardrail.serving.engines import engine_command

        print(
            engine_command(
                args.print_engine_command,
                model=args.model,
                adapter=args.adapter,
                host=args.host,
                port=args.port,
                dtype=args.dtype,
            )
        )
        return 0
    from guardrail.errors import GuardrailConfigError
    from guardrail.serving.admission import token_from_env
    from guardrail.serving.ray_app import build_app, start
    from guardrail.serving.service import ScorerSpec

    if args.replicas < 1:
        raise GuardrailConfigError(f"--replicas must be at least 1, got {args.replicas}")
    limits = _limits(args)
    token = token_from_env(args.token_env)
    _warn_if_open(args.host, token, args.token_env)
    spec = ScorerSpec(
        model=args.model, backend=args.backend, device=args.device, factory=args.factory
    )
    app = build_app(
        spec,
        replicas=args.replicas,
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        max_batch_size=args.max_batch_size,
        batch_wait_s=args.batch_wait_ms / 1000.0,
        max_streams=args.max_streams,
        limits=limits,
        token=token,
    )
    url = start(
        app,
        address=args.address,
        host=args.host,
        port=args.port,
        request_timeout_s=args.request_timeout_s,
    )
    auth = f", api_key_env: {args.token_env}" if token else ""
    print(
        f"serving {spec.label} on {args.replicas} replica(s) at {url}/score; policies use "
        f"scorer: {{url: {url}, engine: ray{auth}}} (Ctrl-C stops)",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    from guardrail._optional import require

    serve: Any = require("ray.serve", "serve")
    serve.shutdown()
    print("stopped", file=sys.stderr)
    return 0


def _limits(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from guardrail.errors import GuardrailConfigError
    from guardrail.serving.admission import ServeLimits

    try:
        return ServeLimits(
            max_body_bytes=args.max_body_bytes,
            max_items=args.max_items,
            body_timeout_s=args.body_timeout_s,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise GuardrailConfigError(problems) from None


def _warn_if_open(host: str, token: str | None, variable: str) -> None:
    """Warn when the service is reachable beyond this machine without authentication."""
    from guardrail.serving.admission import is_loopback

    if token is None and not is_loopback(host):
        print(
            f"warning: serving on {host} without authentication: anyone who can reach the port "
            f"can use the scorer. Set {variable} to a shared secret (clients: scorer.api_key_env)"
            ", and enable Ray's own token authentication (RAY_AUTH_MODE=token) for the cluster's "
            "ports (see docs/threat-model.md)",
            file=sys.stderr,
            flush=True,
        )
