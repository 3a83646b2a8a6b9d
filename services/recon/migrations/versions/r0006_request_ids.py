"""Answers to mutating RPCs by caller and request id (paysuite.runtime.request_ids): a repeat
gets the first answer, a reuse with other content REQUEST_ID_REUSED.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-06
"""

from paysuite.runtime.request_ids_table import create_request_ids_table, drop_request_ids_table

revision = "r0006"
down_revision = "r0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_ids_table()


def downgrade() -> None:
    drop_request_ids_table()
