"""Command-line options of the payment benchmark, with full and --quick defaults."""

from __future__ import annotations

import argparse

DEFAULTS: dict[str, object] = {
    "card_rates": "100,200,300,400,500,600",
    "wallet_rates": "100,200,300,400,500,600",
    "warmup_seconds": 5.0,
    "steady_seconds": 20.0,
    "payers": 1000,
    "floor_seconds": 4.0,
    "pgbench_scale": 10,
    "pgbench_seconds": 15,
}
QUICK: dict[str, object] = {
    **DEFAULTS,
    "card_rates": "100",
    "wallet_rates": "100",
    "warmup_seconds": 2.0,
    "steady_seconds": 5.0,
    "payers": 100,
    "floor_seconds": 2.0,
    "pgbench_scale": 1,
    "pgbench_seconds": 5,
}


def _rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return rates


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Open-loop card and wallet payments against the whole suite, with CPU per "
        "payment by process, pgbench and gRPC echo yardsticks and the payment's floor."
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="a smoke run of about a minute")
    add("--card-rates", help="offered card payments/s per step (100,200,...,600)")
    add("--wallet-rates", help="offered wallet payments/s per step; empty to skip (same)")
    add("--warmup-seconds", type=float, help="untimed start of each step (5)")
    add("--steady-seconds", type=float, help="the measured window of each step (20)")
    add("--drain-seconds", type=float, default=15.0, help="wait for late answers (15)")
    add("--payers", type=int, help="real-named payers with a bound card (1000)")
    add("--floor-seconds", type=float, help="each floor and yardstick measurement (4)")
    add("--pgbench-scale", type=int, help="pgbench -i -s (10)")
    add("--pgbench-seconds", type=int, help="pgbench -T (15)")
    add("--pgbench", metavar="PATH", help="pgbench binary (found next to the server otherwise)")
    add(
        "--trace-ratio",
        type=float,
        default=0.1,
        help="share of payments traced, parent-based as in production (0.1; 1 keeps every "
        "span, the dev default)",
    )
    add("--env", action="append", default=[], metavar="KEY=VALUE", help="services' environment")
    add("--chart", metavar="PNG", help="where to draw latency against load")
    add("--seed", type=int, default=1, help="seed of amounts and payer choice (1)")
    add(
        "--gateways",
        type=int,
        default=1,
        help="gateway processes on one database (1); the load spreads its connections over "
        "them as calling services balance over replicas",
    )
    add("--keep-work-dir", action="store_true", help="keep the services' logs and traces")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    for name, value in base.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.card_rates = _rates(str(args.card_rates))
        args.wallet_rates = _rates(str(args.wallet_rates))
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(f"rates: {exc}")
    if not 0.0 <= args.trace_ratio <= 1.0:
        parser.error("--trace-ratio must be between 0 and 1")
    if args.payers < 1:
        parser.error("--payers must be at least 1")
    if args.gateways < 1:
        parser.error("--gateways must be at least 1")
    for item in args.env:
        if "=" not in item:
            parser.error(f"--env {item!r}: expected KEY=VALUE")
    return args
