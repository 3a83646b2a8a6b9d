"""The request-id store's table (paysuite.runtime.request_ids): declared once for each
service's tables.py and created by each service's migration in the service's schema; a later
change to it is a new function here."""

from __future__ import annotations

import sqlalchemy as sa


def _columns() -> list[sa.Column[object]]:
    """request_ids, version 1: caller, method and request id; the request's digest; the first
    answer (null while it is being answered); when the call was claimed."""
    return [
        sa.Column("caller", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def declare_request_ids_table(metadata: sa.MetaData) -> sa.Table:
    """The table in a service's MetaData, as its migration builds it."""
    return sa.Table("request_ids", metadata, *_columns())


def create_request_ids_table() -> None:
    """In a migration: creates request_ids in the service's schema."""
    from alembic import op

    op.create_table("request_ids", *_columns())


def drop_request_ids_table() -> None:
    """In a migration: drops request_ids."""
    from alembic import op

    op.drop_table("request_ids")
