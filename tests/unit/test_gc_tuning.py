"""A serving process raises the collector's thresholds and freezes what start-up built."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from paysuite.runtime.gc_tuning import THRESHOLDS, tune_for_service


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tuning_raises_thresholds_and_freezes_startup_objects(restored_gc: None) -> None:
    built_at_startup = [object() for _ in range(10)]
    tune_for_service()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > len(built_at_startup)
