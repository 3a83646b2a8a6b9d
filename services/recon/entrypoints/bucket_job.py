"""Matches one bucket range of a staged run: a completion of a Kubernetes Indexed Job.

    python -m recon.entrypoints.bucket_job RUN_FOLDER [--index I] [--ranges N]

RUN_FOLDER is the run's folder on the volume recon and the Job's pods share
(RECON_WORK_DIR/RUN_ID), where a run in RECON_MATCH_RUNNER=indexed-job mode stages its inputs
and writes its manifest. The range is --index, else JOB_COMPLETION_INDEX (set by Kubernetes in
each pod of an Indexed Job); --ranges is the Job's completions, which must equal the run's
ranges. The pod waits for the manifest (the Job may start while the run is still staging),
matches its range with the engine's code, and leaves its result and done marker, renamed into
place; a failure leaves a failure marker and exits 1, so the Job retries the index
(backoffLimitPerIndex) and the run fails once a range has failed more often than that.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from recon.adapters.indexed_job import ManifestMissing, match_index, wait_for_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the run's folder: RECON_WORK_DIR/RUN_ID")
    parser.add_argument("--index", type=int, default=None, help="default: JOB_COMPLETION_INDEX")
    parser.add_argument("--ranges", type=int, default=None, help="the Job's completions")
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=1800.0,
        help="how long to wait for the run's manifest",
    )
    args = parser.parse_args(argv)
    index_text = os.environ.get("JOB_COMPLETION_INDEX")
    if args.index is None and index_text is None:
        parser.error("no --index and no JOB_COMPLETION_INDEX")
    index = args.index if args.index is not None else int(str(index_text))
    try:
        manifest = wait_for_manifest(args.folder, args.wait_seconds)
    except ManifestMissing as exc:
        sys.stderr.write(f"range {index}: {exc} after {args.wait_seconds:.0f} s\n")
        return 1
    try:
        matched = match_index(args.folder, index, args.ranges)
    except Exception as exc:
        sys.stderr.write(f"run {manifest.run_id} range {index} failed: {exc}\n")
        return 1
    sys.stdout.write(f"run {manifest.run_id} range {index}: {matched} matched\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
