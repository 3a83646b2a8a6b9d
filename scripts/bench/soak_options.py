"""Command-line options of the memory soak (`make soak`)."""

from __future__ import annotations

import argparse

# Half the card rate the payment benchmark sustains (300/s, docs/benchmarks.md) and a wallet
# share beside it.
CARD_RATE = 150.0
WALLET_RATE = 20.0
MINUTES = 30.0
WARMUP_MINUTES = 2.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A steady open-loop mix of card and wallet payments through the whole "
        "suite, each process's resident memory sampled throughout: does any grow?"
    )
    add = parser.add_argument
    add("--minutes", type=float, default=MINUTES, help="length of the load (30)")
    add("--card-rate", type=float, default=CARD_RATE, help="card payments/s (150)")
    add("--wallet-rate", type=float, default=WALLET_RATE, help="wallet payments/s; 0: none (20)")
    add(
        "--warmup-minutes",
        type=float,
        help="load before the start reading, not judged (2, at most a quarter of --minutes)",
    )
    add("--sample-seconds", type=float, default=30.0, help="between RSS readings (30)")
    add(
        "--payers",
        type=int,
        default=2000,
        help="real-named payers (2000: a 30-minute run spends ~300 yuan of each one's limits)",
    )
    add("--no-egress", action="store_true", help="no egress proxies (the gateway goes direct)")
    add("--drain-seconds", type=float, default=15.0, help="wait for late answers (15)")
    add("--trace-ratio", type=float, default=0.1, help="share of payments traced (0.1)")
    add("--env", action="append", default=[], metavar="KEY=VALUE", help="services' environment")
    add("--out", metavar="STEM", help="where to write STEM.json and STEM.md (.data/soak-<time>)")
    add("--seed", type=int, default=1, help="seed of amounts and payer choice (1)")
    add("--keep-work-dir", action="store_true", help="keep the services' logs and traces")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.sample_seconds <= 0:
        parser.error("--minutes and --sample-seconds must be positive")
    if args.card_rate <= 0 or args.wallet_rate < 0:
        parser.error("--card-rate must be positive, --wallet-rate not negative")
    if args.warmup_minutes is None:
        args.warmup_minutes = min(WARMUP_MINUTES, args.minutes / 4)
    if not 0 <= args.warmup_minutes < args.minutes:
        parser.error("--warmup-minutes must be shorter than --minutes")
    if args.payers < 1:
        parser.error("--payers must be at least 1")
    if not 0.0 <= args.trace_ratio <= 1.0:
        parser.error("--trace-ratio must be between 0 and 1")
    for item in args.env:
        if "=" not in item:
            parser.error(f"--env {item!r}: expected KEY=VALUE")
    return args
