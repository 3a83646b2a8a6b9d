"""RECON_MATCH_RUNNER: who matches a run's bucket ranges, and the Indexed Job's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from recon.adapters import engine, indexed_job
from recon.adapters.engine import EngineSettings
from recon.bootstrap import run_config
from recon.service_layer.runs import IndexedJob
from recon.settings import ReconSettings


def test_the_indexed_job_needs_the_shared_work_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    monkeypatch.setenv("RECON_MATCH_RUNNER", "indexed-job")
    with pytest.raises(ValidationError, match="RECON_WORK_DIR"):
        ReconSettings()
    monkeypatch.setenv("RECON_WORK_DIR", str(tmp_path))
    monkeypatch.setenv("RECON_JOB_TIMEOUT_SECONDS", "600")
    config = run_config(ReconSettings())
    assert config.work_dir == tmp_path
    assert config.indexed_job == IndexedJob(timeout_seconds=600, poll_seconds=2, retries=2)
    assert run_config(ReconSettings(match_runner="local")).indexed_job is None


def test_a_range_is_done_by_its_marker_and_failed_past_its_retries(tmp_path: Path) -> None:
    manifest = indexed_job.Manifest("rec_x", EngineSettings(buckets=8, ranges=2), retries=1)
    indexed_job.write_manifest(tmp_path, manifest)
    assert indexed_job.read_manifest(tmp_path) == manifest
    seen = indexed_job.progress(tmp_path, manifest)
    assert (seen.buckets_done, seen.missing, seen.failed) == (0, [0, 1], {})
    engine.write_atomically(engine.done_file(tmp_path, 0, 3), json.dumps({"matched": 0}))
    for attempt in ("pod-a", "pod-b"):
        failure = engine.done_file(tmp_path, 4, 7).with_name(f"range-00004-00007.failed-{attempt}")
        assert indexed_job.progress(tmp_path, manifest).failed == {}
        failure.write_text(json.dumps({"error": f"OSError: {attempt}"}))
    seen = indexed_job.progress(tmp_path, manifest)
    assert (seen.buckets_done, seen.missing, seen.complete) == (4, [1], False)
    assert seen.failed == {1: "OSError: pod-b"} or seen.failed == {1: "OSError: pod-a"}
    assert not list(tmp_path.rglob(".*.tmp"))  # written beside, renamed into place
