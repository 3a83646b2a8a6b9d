"""Two-phase transfers, reversals, running balances, business date, day-end, suspense, chart.

Revision ID: l0002
Revises: l0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "l0002"
down_revision = "l0001"
branch_labels = None
depends_on = None

CHART = [
    # account_id, name, type, owner_type, owner_id, suspense
    (
        "channel.banksim.receivable.CNY",
        "Receivable from channel banksim",
        "asset",
        "channel",
        "banksim",
        False,
    ),
    (
        "channel.alipaysim.receivable.CNY",
        "Receivable from channel alipaysim",
        "asset",
        "channel",
        "alipaysim",
        False,
    ),
    (
        "channel.wechatsim.receivable.CNY",
        "Receivable from channel wechatsim",
        "asset",
        "channel",
        "wechatsim",
        False,
    ),
    ("platform.reserve.CNY", "Customer reserve funds (备付金)", "asset", "platform", "", False),
    ("platform.fee_income.CNY", "Fee income", "income", "platform", "", False),
    ("platform.channel_fee_expense.CNY", "Channel fee expense", "expense", "platform", "", False),
    ("platform.marketing_cost.CNY", "Marketing and coupon cost", "expense", "platform", "", False),
    ("platform.suspense.CNY", "Suspense (过渡账户)", "liability", "platform", "", True),
    (
        "platform.day_end_difference.CNY",
        "Day-end differences under investigation",
        "equity",
        "platform",
        "",
        False,
    ),
]


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("overdraft_limit", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column(
        "accounts", sa.Column("suspense", sa.Boolean, nullable=False, server_default="false")
    )
    op.add_column(
        "accounts", sa.Column("debits_pending", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column(
        "accounts", sa.Column("credits_pending", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column(
        "accounts", sa.Column("day_end_balance", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("accounts", sa.Column("day_end_date", sa.Date, nullable=True))
    op.create_check_constraint(
        "pending_non_negative", "accounts", "debits_pending >= 0 AND credits_pending >= 0"
    )
    op.create_check_constraint("overdraft_limit_non_negative", "accounts", "overdraft_limit >= 0")

    op.add_column(
        "transfers", sa.Column("kind", sa.String(16), nullable=False, server_default="transfer")
    )
    op.add_column(
        "transfers", sa.Column("state", sa.String(16), nullable=False, server_default="posted")
    )
    op.add_column("transfers", sa.Column("postings", sa.Text, nullable=False, server_default=""))
    op.add_column(
        "transfers",
        sa.Column("linked_transfer_id", sa.String(200), nullable=False, server_default=""),
    )
    op.add_column(
        "transfers", sa.Column("reversed_by", sa.String(128), nullable=False, server_default="")
    )
    op.add_column("transfers", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE transfers SET state = 'failed' WHERE result <> 'posted'")
    # A pending transfer is resolved (posted or voided) once; a transfer is reversed once;
    # a suspense item is cleared once. The database says so, not only the code.
    op.create_index(
        "resolved_once",
        "transfers",
        ["linked_transfer_id"],
        unique=True,
        postgresql_where=sa.text("kind IN ('post', 'void') AND state <> 'failed'"),
    )
    op.create_index(
        "reversed_once",
        "transfers",
        ["linked_transfer_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'reverse' AND state <> 'failed'"),
    )
    op.create_index(
        "cleared_once",
        "transfers",
        ["linked_transfer_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'clear' AND state <> 'failed'"),
    )
    op.create_index(
        "pending_by_expiry",
        "transfers",
        ["expires_at"],
        postgresql_where=sa.text("state = 'pending' AND expires_at IS NOT NULL"),
    )
    op.create_index("transfers_by_date", "transfers", ["accounting_date"])

    op.add_column(
        "entries", sa.Column("balance_after", sa.BigInteger, nullable=False, server_default="0")
    )
    # The writing transaction's id orders the entry feed (see WatchEntries).
    op.execute("ALTER TABLE entries ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.create_index("entries_feed", "entries", ["txid", "entry_id"])
    op.create_index("entries_by_account_time", "entries", ["account_id", "created_at", "entry_id"])
    op.create_index(
        "entries_by_account_date", "entries", ["account_id", "accounting_date", "entry_id"]
    )
    op.create_index("entries_by_date", "entries", ["accounting_date"])

    op.create_table(
        "ledger_state",
        sa.Column("singleton", sa.Boolean, primary_key=True, server_default="true"),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("last_closed_date", sa.Date, nullable=True),
        sa.CheckConstraint("singleton", name="one_row"),
    )
    op.execute(
        "INSERT INTO ledger_state (business_date) "
        "VALUES ((now() AT TIME ZONE 'Asia/Shanghai')::date)"
    )
    op.create_table(
        "day_cuts",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("cut_date", sa.Date, nullable=False, unique=True),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "daily_balances",
        sa.Column("accounting_date", sa.Date, primary_key=True),
        sa.Column(
            "account_id", sa.String(128), sa.ForeignKey("accounts.account_id"), primary_key=True
        ),
        sa.Column("opening", sa.BigInteger, nullable=False),
        sa.Column("debit_turnover", sa.BigInteger, nullable=False),
        sa.Column("credit_turnover", sa.BigInteger, nullable=False),
        sa.Column("closing", sa.BigInteger, nullable=False),
        sa.CheckConstraint(
            "closing = opening + debit_turnover - credit_turnover", name="closing_adds_up"
        ),
    )
    op.create_table(
        "day_ends",
        sa.Column("accounting_date", sa.Date, primary_key=True),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "suspense_items",
        sa.Column("item_id", sa.String(200), primary_key=True),
        sa.Column(
            "suspense_account_id",
            sa.String(128),
            sa.ForeignKey("accounts.account_id"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("transfer_id", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cleared_by", sa.String(128), nullable=False, server_default=""),
        sa.Column("clear_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("business_reference", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount <> 0", name="amount_non_zero"),
    )
    op.create_index("suspense_by_state", "suspense_items", ["state", "created_at", "item_id"])

    for account_id, name, kind, owner_type, owner_id, suspense in CHART:
        op.execute(
            sa.text(
                "INSERT INTO accounts (account_id, name, type, currency, owner_type, owner_id, "
                "state, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
                "debits_posted, credits_posted, created_at, suspense) VALUES (:id, :name, :type, "
                "'CNY', :owner_type, :owner_id, 'active', false, false, 0, 0, now(), :suspense) "
                "ON CONFLICT (account_id) DO NOTHING"
            ).bindparams(
                id=account_id,
                name=name,
                type=kind,
                owner_type=owner_type,
                owner_id=owner_id,
                suspense=suspense,
            )
        )


def downgrade() -> None:
    op.drop_table("suspense_items")
    op.drop_table("day_ends")
    op.drop_table("daily_balances")
    op.drop_table("day_cuts")
    op.drop_table("ledger_state")
    for index in (
        "entries_by_date",
        "entries_by_account_date",
        "entries_by_account_time",
        "entries_feed",
    ):
        op.drop_index(index, "entries")
    op.drop_column("entries", "txid")
    op.drop_column("entries", "balance_after")
    for index in (
        "transfers_by_date",
        "pending_by_expiry",
        "cleared_once",
        "reversed_once",
        "resolved_once",
    ):
        op.drop_index(index, "transfers")
    for column in ("expires_at", "reversed_by", "linked_transfer_id", "postings", "state", "kind"):
        op.drop_column("transfers", column)
    op.drop_constraint("overdraft_limit_non_negative", "accounts")
    op.drop_constraint("pending_non_negative", "accounts")
    for column in (
        "day_end_date",
        "day_end_balance",
        "credits_pending",
        "debits_pending",
        "suspense",
        "overdraft_limit",
    ):
        op.drop_column("accounts", column)
