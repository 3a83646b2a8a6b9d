"""Database spans by configuration: a span per asyncpg query with its statement, not its values."""

from __future__ import annotations

import asyncpg
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import database_spans


def test_database_spans_are_off_unless_configured() -> None:
    assert CommonSettings().db_spans is False
    assert CommonSettings(PAYSUITE_DB_SPANS="true").db_spans is True  # type: ignore[call-arg]


async def test_a_query_is_a_span_with_its_statement_and_never_its_values(suite_db: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = database_spans(provider)
    try:
        connection = await asyncpg.connect(plain_postgres_url(suite_db))
        try:
            assert await connection.fetchval("SELECT $1::text", "secret-value") == "secret-value"
        finally:
            await connection.close()
    finally:
        instrumentor.uninstrument()
    queries = [
        s for s in exporter.get_finished_spans() if "SELECT $1::text" in str(s.attributes or {})
    ]
    assert queries
    for span in queries:
        assert (span.attributes or {})["db.system"] == "postgresql"
        assert "secret-value" not in str(span.attributes)
