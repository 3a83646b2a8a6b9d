"""Matches one bucket range of a staged run: a completion of a Kubernetes Indexed Job.

    python -m recon.entrypoints.bucket_job STAGING_DIR --buckets 0-63
    python -m recon.entrypoints.bucket_job STAGING_DIR --index 3 --ranges 16

With --index (or JOB_COMPLETION_INDEX, which an Indexed Job sets in each pod) the range is
that index's share of the run's buckets, as the embedded engine splits them; the folder is the
run's staging folder on storage every pod mounts. The run's service finishes the run once
every range has its result file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from recon.adapters.engine import EngineSettings, match_range


def main(argv: list[str] | None = None) -> int:
    default = EngineSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("staging", type=Path)
    parser.add_argument("--buckets", help="LOW-HIGH, inclusive")
    parser.add_argument("--index", type=int, default=None)
    parser.add_argument("--ranges", type=int, default=default.ranges)
    parser.add_argument("--total-buckets", type=int, default=default.buckets)
    parser.add_argument("--memory-mb", type=int, default=default.memory_limit_mb)
    args = parser.parse_args(argv)
    settings = EngineSettings(
        buckets=args.total_buckets, ranges=args.ranges, memory_limit_mb=args.memory_mb
    )
    if args.buckets:
        low_text, _, high_text = args.buckets.partition("-")
        low, high = int(low_text), int(high_text)
    else:
        index = args.index if args.index is not None else int(os.environ["JOB_COMPLETION_INDEX"])
        low, high = settings.range_bounds(index)
    matched = match_range(args.staging, low, high, settings)
    sys.stdout.write(f"buckets {low}-{high}: {matched} matched\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
