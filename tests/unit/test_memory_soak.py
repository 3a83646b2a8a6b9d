"""The memory soak's readings from /proc and its growth after warm-up, flat or growing."""

from __future__ import annotations

import os

import pytest

from scripts.bench import memory
from scripts.bench.memory import Rss, Sample
from scripts.bench.memory_growth import FLAT_MB, growing, growth, marks, table

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t  912340 kB
VmRSS:\t  104200 kB
RssAnon:\t   80000 kB
RssFile:\t   20104 kB
RssShmem:\t    4096 kB
Threads:\t5
"""


def test_status_gives_resident_and_shared_memory() -> None:
    rss = memory.parse_status(STATUS)
    assert rss == Rss(total_kb=104_200, shared_kb=4096)
    assert rss.private_kb == 100_104


def test_a_status_without_resident_memory_is_no_reading() -> None:
    assert memory.parse_status("Name:\tpython\nState:\tZ (zombie)\n") is None


def test_this_process_reads_as_resident() -> None:
    rss = memory.read_rss(os.getpid())
    assert rss is not None and rss.total_kb > 1024


@pytest.mark.parametrize(
    ("title", "database"),
    [
        ("postgres: gateway_rw paysuite_bench_1a2b 127.0.0.1(5501) idle", "paysuite_bench_1a2b"),
        ("postgres: 15/main: ledger_rw soak_db [local] idle in transaction", "soak_db"),
        ("postgres:\0ledger\0soak_db\0127.0.0.1(1)\0SELECT\0", "soak_db"),
        ("postgres: checkpointer ", None),
        ("postgres: 15/main: background writer ", None),
        ("postgres: io worker 1", None),
        ("postgres: logical replication launcher", None),
        ("/usr/lib/postgresql/18/bin/postgres -D .data/postgres", None),
    ],
)
def test_a_backend_is_told_by_its_title(title: str, database: str | None) -> None:
    assert memory.backend_database(title) == database


def test_backends_are_summed_private_and_as_vmrss() -> None:
    named = {"gateway": Rss(204_800), "recon": None}
    backends = [Rss(30_720, 20_480), Rss(40_960, 30_720)]
    sample = memory.readings_to_mb(12.0, named, backends)
    assert sample == Sample(
        12.0, {"gateway": 200.0, memory.POSTGRES: 20.0, memory.POSTGRES_VMRSS: 70.0}, 2
    )


def _samples(**series: list[float]) -> list[Sample]:
    """One sample every 5 minutes, each process's MB in turn."""
    count = len(next(iter(series.values())))
    return [
        Sample(i * 300.0, {name: mbs[i] for name, mbs in series.items() if i < len(mbs)})
        for i in range(count)
    ]


def test_marks_start_after_the_warm_up_and_the_middle_is_halfway() -> None:
    samples = _samples(gateway=[1, 2, 3, 4, 5, 6, 7])  # 0 ... 30 min
    start, middle, end = marks(samples, warmup_seconds=300)
    assert (start.at, middle.at, end.at) == (300, 900, 1800)  # a tie halfway goes to the earlier


def test_no_sample_after_the_warm_up_is_an_error() -> None:
    with pytest.raises(ValueError, match="warm-up"):
        marks(_samples(gateway=[1, 2]), warmup_seconds=600)


def test_growth_during_the_warm_up_is_not_judged() -> None:
    samples = _samples(gateway=[60, 150, 151, 152, 153, 154, 155])
    (gateway,) = growth(samples, warmup_seconds=300)
    assert gateway.start_mb == 150 and gateway.end_mb == 155
    assert gateway.growth_mb == pytest.approx(5.0)
    assert gateway.per_10_minutes_mb == pytest.approx(5.0 * 600 / 1500)
    assert gateway.verdict == "flat"


def test_steady_growth_over_the_threshold_is_growing() -> None:
    samples = _samples(ledger=[80, 80, 84, 88, 92, 96, 100])
    (ledger,) = growth(samples, warmup_seconds=300)
    assert ledger.growth_mb == pytest.approx(20.0)
    assert ledger.threshold_mb == FLAT_MB
    assert ledger.verdict == "GROWING"
    assert growing([ledger]) == ["ledger"]


def test_a_large_process_is_allowed_its_share() -> None:
    big = _samples(postgres=[400, 400, 405, 410, 415])  # +15 MB of 400: under 5% (20 MB)
    small = _samples(banksim=[40, 40, 45, 50, 55])  # +15 MB of 40: over 10 MB
    assert [g.verdict for g in growth(big, 300)] == ["flat"]
    assert [g.verdict for g in growth(small, 300)] == ["GROWING"]


def test_a_process_gone_by_the_end_is_no_reading_and_not_flat() -> None:
    samples = _samples(gateway=[100, 100, 100], recon=[90, 90])
    by_name = {g.name: g for g in growth(samples, warmup_seconds=300)}
    assert by_name["gateway"].verdict == "flat"
    assert by_name["recon"].end_mb is None and by_name["recon"].verdict == "no reading"
    assert growing(list(by_name.values())) == ["recon"]


def test_a_reference_row_has_no_verdict() -> None:
    samples = _samples(**{memory.POSTGRES_VMRSS: [100.0, 200.0, 400.0]})
    (shared,) = growth(samples, 300, informational={memory.POSTGRES_VMRSS})
    assert shared.growth_mb == pytest.approx(200.0)
    assert shared.verdict == "(reference)"
    assert growing([shared]) == []


def test_the_table_has_a_row_per_process() -> None:
    samples = _samples(gateway=[100, 101, 102, 103, 104], ledger=[70, 70, 70, 70, 90])
    lines = table(growth(samples, 300), 300, 750, 1200)
    assert lines[0].startswith("| process | RSS MB at 5.0 min | at 12.5 min | at 20.0 min |")
    assert lines[2] == "| gateway | 101.0 | 102.0 | 104.0 | +3.0 | +2.0 | 10.0 | flat |"
    assert lines[3] == "| ledger | 70.0 | 70.0 | 90.0 | +20.0 | +13.3 | 10.0 | GROWING |"
