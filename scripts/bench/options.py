"""Command-line options of the ledger benchmark, with full and --quick defaults."""

from __future__ import annotations

import argparse

DEFAULTS: dict[str, int | float] = {
    "batch_clients": 4,
    "batch_size": 8000,
    "batch_seconds": 20.0,
    "single_clients": 16,
    "single_seconds": 15.0,
    "floor_seconds": 5.0,
    "warmup_seconds": 3.0,
    "accounts": 10_000,
    "pgbench_scale": 10,
    "pgbench_seconds": 20,
}
QUICK: dict[str, int | float] = {
    **DEFAULTS,
    "batch_size": 1000,
    "batch_seconds": 2.0,
    "single_seconds": 2.0,
    "floor_seconds": 2.0,
    "warmup_seconds": 1.0,
    "accounts": 1000,
    "pgbench_scale": 1,
    "pgbench_seconds": 5,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ledger batch and single-transfer throughput against a pgbench yardstick."
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke-run sizes: " + _quick_text())
    add("--batch-clients", type=int, help="concurrent batch clients (4)")
    add("--batch-size", type=int, help="transfers per CreateTransfers batch (8000)")
    add("--batch-seconds", type=float, help="timed batch phase length (20)")
    add("--single-clients", type=int, help="concurrent single-transfer clients (16)")
    add("--single-seconds", type=float, help="timed single-transfer phase length (15)")
    add("--floor-seconds", type=float, help="timed gRPC floor phase (health Check) length (5)")
    add("--warmup-seconds", type=float, help="untimed warm-up before each phase (3)")
    add("--accounts", type=int, help="cold accounts besides the one hot account (10000)")
    add("--pgbench-scale", type=int, help="pgbench -i -s (10)")
    add("--pgbench-seconds", type=int, help="pgbench -T (20)")
    add("--pgbench-clients", type=int, default=8, help="pgbench -c (8)")
    add("--pgbench-threads", type=int, default=2, help="pgbench -j (2)")
    add("--pgbench", metavar="PATH", help="pgbench binary (found next to the server otherwise)")
    add("--hot-share", type=float, default=0.2, help="share of transfers debiting hot (0.2)")
    add(
        "--hot-sub-accounts",
        type=int,
        default=8,
        help="sub-accounts the hot account is split into (8; 1 = not split)",
    )
    add("--seed", type=int, default=1, help="seed of the random account choice (1)")
    add("--ledger-env", action="append", default=[], metavar="KEY=VALUE", help="ledger env")
    add("--keep-work-dir", action="store_true", help="keep the ledger log and traces")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    for name, value in base.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not 1 <= args.batch_size <= 8000:
        parser.error("--batch-size must be 1 to 8000 (the CreateTransfers limit)")
    if args.batch_clients < 1 or args.single_clients < 1:
        parser.error("client counts must be at least 1")
    if args.accounts < 2:
        parser.error("--accounts must be at least 2")
    if not 0.0 <= args.hot_share <= 1.0:
        parser.error("--hot-share must be between 0 and 1")
    for item in args.ledger_env:
        if "=" not in item:
            parser.error(f"--ledger-env {item!r}: expected KEY=VALUE")
    return args


def _quick_text() -> str:
    changed = {k: v for k, v in QUICK.items() if DEFAULTS[k] != v}
    return ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in changed.items())
