"""The request-id store's table (paysuite.runtime.request_ids), as each service's migration
creates it in the service's schema; a later change to it is a new function here."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_request_ids_table() -> None:
    """request_ids, version 1: caller, method and request id; the request's digest; the first
    answer (null while it is being answered); when the call was claimed."""
    op.create_table(
        "request_ids",
        sa.Column("caller", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_request_ids_table() -> None:
    op.drop_table("request_ids")
