"""Answers to mutating RPCs by caller and request id (paysuite.runtime.request_ids): a repeat
gets the first answer, a reuse with other content REQUEST_ID_REUSED.

Revision ID: g0017
Revises: g0016
Create Date: 2026-12-06
"""

from paysuite.runtime.request_ids_table import create_request_ids_table, drop_request_ids_table

revision = "g0017"
down_revision = "g0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_ids_table()


def downgrade() -> None:
    drop_request_ids_table()
