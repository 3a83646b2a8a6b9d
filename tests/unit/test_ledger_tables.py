"""The ledger's SQL names only columns its declared tables have (the declaration is checked
against the migrations in tests/integration/test_tables_match_migrations.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import Table

from ledger.adapters import codec, tables


@pytest.mark.parametrize(
    ("columns", "table"),
    [
        (codec.ACCOUNT_COLUMNS, tables.accounts),
        (codec.TRANSFER_COLUMNS, tables.transfers),
        (codec.ENTRY_COLUMNS, tables.entries),
        (codec.ITEM_COLUMNS, tables.suspense_items),
    ],
    ids=lambda value: value.name if isinstance(value, Table) else "",
)
def test_codec_columns_are_declared(columns: str, table: Table) -> None:
    named = {column.strip() for column in columns.split(",")}
    assert named <= set(table.c.keys()), named - set(table.c.keys())
