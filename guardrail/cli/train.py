"""``guardrail train``: fine-tune a FineCE scorer from Monte Carlo label stores."""

from __future__ import annotations

import argparse
import json
from typing import Any

from guardrail.errors import GuardrailConfigError


def register(sub: Any) -> None:
    """Add the ``train`` sub-command."""
    parser = sub.add_parser(
        "train",
        help="fine-tune a scorer (LoRA by default) on labels from `guardrail data build`",
        description="Resumable: re-running the same command continues from OUT/checkpoint.",
    )
    parser.add_argument("--data", nargs="+", required=True, help="label JSONL file(s)")
    parser.add_argument("--out", required=True, help="artifact directory")
    parser.add_argument("--base", default="builtin:smollm2-135m-instruct", help="base model")
    parser.add_argument("--method", choices=["ift", "value_head"], default="ift")
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=768)
    parser.add_argument("--warmup-steps", type=int, default=300)
    parser.add_argument("--dev-fraction", type=float, default=0.2)
    parser.add_argument("--eval-every", type=int, default=0, help="dev metrics every N steps")
    parser.add_argument("--checkpoint-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--kind-weights",
        default="",
        metavar="KIND=W,...",
        help="resample label levels per epoch, e.g. question=2,process=2,outcome=0.35",
    )
    parser.add_argument(
        "--adversarial-augment",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="add, for this fraction of examples, a copy ending in a suffix aimed at the "
        "scorer (same label): resistance to answers that grade themselves",
    )
    parser.add_argument(
        "--adversarial-pairs",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="give this fraction of each batch's answers a twin ending in a fresh suffix aimed "
        "at the scorer, and penalise any difference between their confidences",
    )
    parser.add_argument(
        "--consistency-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="weight of that penalty (mean squared confidence difference; default 1)",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="SCORER",
        help="start from a trained scorer's weights (builtin:NAME or an artifact directory "
        "trained with the same method, base and LoRA shape): a short fine-tune",
    )
    parser.add_argument(
        "--mixed-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="weight of the process and outcome labels of questions the generator answered "
        "both right and wrong (default 1)",
    )
    parser.add_argument(
        "--max-questions",
        type=int,
        default=None,
        metavar="N",
        help="train on a seeded sample of N questions (nested across N: a learning curve)",
    )
    parser.add_argument(
        "--no-calibrate",
        action="store_true",
        help="do not fit a Platt calibration map on the dev split",
    )
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> Any:
    """A validated :class:`~guardrail.lab.training.config.TrainConfig` (config errors named)."""
    from pydantic import ValidationError as PydanticError

    from guardrail.lab.training.config import TrainConfig

    try:
        return TrainConfig(
            data=tuple(args.data),
            out=args.out,
            base_model=args.base,
            method=args.method,
            lora=not args.full,
            lora_r=args.lora_r,
            epochs=args.epochs,
            max_steps=args.max_steps,
            learning_rate=args.lr,
            batch_size=args.batch_size,
            max_length=args.max_length,
            warmup_steps=args.warmup_steps,
            dev_fraction=args.dev_fraction,
            eval_every=args.eval_every,
            checkpoint_every=args.checkpoint_every,
            seed=args.seed,
            device=args.device,
            kind_weights=parse_kind_weights(args.kind_weights),
            calibrate=not args.no_calibrate,
            adversarial_augment=args.adversarial_augment,
            mixed_weight=args.mixed_weight,
            max_questions=args.max_questions,
            adversarial_pairs=args.adversarial_pairs,
            consistency_weight=args.consistency_weight,
            init_from=args.init_from,
        )
    except PydanticError as exc:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise GuardrailConfigError(f"invalid training settings: {problems}") from exc


def parse_kind_weights(text: str) -> dict[str, float]:
    """``question=2,process=2`` -> ``{"question": 2.0, "process": 2.0}`` (errors name the item)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        try:
            if not sep or not kind.strip():
                raise ValueError
            weights[kind.strip()] = float(value)
        except ValueError:
            raise GuardrailConfigError(
                f"--kind-weights: {item!r} is not KIND=NUMBER (e.g. process=2)"
            ) from None
    return weights


def run(args: argparse.Namespace) -> int:
    """Train and print the result as JSON."""
    from guardrail.lab.training.trainer import train

    result = train(config_from_args(args))
    print(
        json.dumps(
            {
                "out": str(result.out),
                "steps": result.steps,
                "resumed_from": result.resumed_from,
                "dev_metrics": result.dev_metrics,
                "seconds": round(result.seconds, 1),
            }
        )
    )
    return 0
