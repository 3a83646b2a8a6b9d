"""The benchmark's split of Postgres's CPU: each process by what it works for, from its title."""

from __future__ import annotations

import pytest

from scripts.bench.proc_cpu import postgres_role


@pytest.mark.parametrize(
    ("title", "role"),
    [
        (b"postgres: 15/main: paysuite_gateway paysuite_bench_1 127.0.0.1(56400) idle", "gateway"),
        (b"postgres: paysuite_identity paysuite_test [local] INSERT", "identity"),
        (b"postgres: 15/main: postgres paysuite_bench_1 127.0.0.1(3) idle", "other"),
        (b"postgres: 15/main: autovacuum worker paysuite_bench_pgbench", "autovacuum"),
        (b"postgres: checkpointer ", "server"),
        (b"postgres: 15/main: autovacuum launcher ", "server"),
        (b"/usr/lib/postgresql/15/bin/postgres\x00-D\x00/var/lib/postgresql/15/main", "server"),
    ],
)
def test_a_postgres_process_is_counted_for_what_it_works_for(title: bytes, role: str) -> None:
    assert postgres_role(title) == role
