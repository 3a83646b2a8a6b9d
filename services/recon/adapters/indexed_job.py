"""A run's bucket ranges matched by the completions of a Kubernetes Indexed Job.

The files are the whole contract between the service and the Job's pods, on a volume both
mount (RECON_WORK_DIR): the service stages the run into its folder, then writes the run's
manifest (`manifest.json`: the run, its buckets and ranges, the failed attempts a range may
have), renamed into place last, so a pod that finds it finds the run staged. Completion i
(JOB_COMPLETION_INDEX) matches range i with the engine's own `match_range`, which renames its
result into place and then writes the range's done marker; an attempt that fails leaves a
failure marker of its own. The service reads the markers until every range is done, a range
failed more often than the Job retries it, or its time is up. Kubernetes starts the pods; the
service starts nothing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from recon.adapters import engine
from recon.adapters.engine import EngineSettings

MANIFEST = "manifest.json"


class ManifestMissing(Exception):
    """No run staged in the folder (yet, or any more)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """A staged run, as the Job's pods match it: `retries` is the Job's backoffLimitPerIndex
    (a range failing once more than that has failed for good)."""

    run_id: str
    engine: EngineSettings
    retries: int

    def bounds(self) -> list[tuple[int, int]]:
        return [self.engine.range_bounds(i) for i in range(self.engine.ranges)]


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Written last, once the run is staged."""
    (folder / engine.RESULTS).mkdir(exist_ok=True)
    path = folder / MANIFEST
    data = {
        "run_id": manifest.run_id,
        "engine": asdict(manifest.engine),
        "retries": manifest.retries,
    }
    engine.write_atomically(path, json.dumps(data))
    return path


def read_manifest(folder: Path) -> Manifest:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise ManifestMissing(f"no {MANIFEST} in {folder}") from None
    return Manifest(data["run_id"], EngineSettings(**data["engine"]), int(data["retries"]))


def wait_for_manifest(folder: Path, seconds: float, poll_seconds: float = 1.0) -> Manifest:
    """The run's manifest, once the service has staged the run (a Job may start first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return read_manifest(folder)
        except ManifestMissing:
            if time.monotonic() >= deadline:
                raise
        time.sleep(poll_seconds)


def _failures(folder: Path, low: int, high: int) -> list[Path]:
    done = engine.done_file(folder, low, high)
    return sorted(done.parent.glob(f"{done.stem}.failed-*"))


def match_index(folder: Path, index: int, completions: int | None = None) -> int:
    """Matches range `index` of the staged run in the folder; its plain matches. An attempt
    that fails leaves a failure marker (the error, no data) before the error goes on."""
    manifest = read_manifest(folder)
    if not 0 <= index < manifest.engine.ranges:
        raise ValueError(f"index {index}: the run has ranges 0-{manifest.engine.ranges - 1}")
    low, high = manifest.engine.range_bounds(index)
    try:
        if completions is not None and completions != manifest.engine.ranges:
            raise ValueError(
                f"the Job has {completions} completions, the run {manifest.engine.ranges} ranges"
            )
        if low > high:  # more ranges than buckets: nothing in this one
            return 0
        return engine.match_range(folder, low, high, manifest.engine)
    except Exception as exc:
        attempt = f"{socket.gethostname()}-{os.getpid()}"
        error = f"{type(exc).__name__}: {exc}"[:300]
        done = engine.done_file(folder, low, high)
        engine.write_atomically(
            done.with_name(f"{done.stem}.failed-{attempt}"),
            json.dumps({"index": index, "attempt": attempt, "error": error}),
        )
        raise


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the Job is with a run: the buckets of the ranges done, the indexes not done
    yet, and those failed for good (index: the last attempt's error)."""

    buckets_done: int
    missing: list[int]
    failed: dict[int, str]

    @property
    def complete(self) -> bool:
        return not self.missing


def progress(folder: Path, manifest: Manifest) -> Progress:
    done, missing, failed = 0, [], {}
    for index, (low, high) in enumerate(manifest.bounds()):
        if low > high:
            continue
        if engine.done_file(folder, low, high).exists():
            done += high - low + 1
            continue
        missing.append(index)
        failures = _failures(folder, low, high)
        if len(failures) > manifest.retries:
            last = max(failures, key=lambda p: p.stat().st_mtime)
            failed[index] = str(json.loads(last.read_text())["error"])
    return Progress(done, missing, failed)
