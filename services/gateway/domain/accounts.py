"""Moved to `paysuite.accounts` (issue 12): the ledger account names are shared, not the gateway's.

Kept only for the gateway modules being rewritten (issue 11) that still import it from here;
the import contracts allow no other importer. Delete it when they import `paysuite.accounts`.
"""

from paysuite.accounts import (
    channel_fee_expense,
    channel_receivable,
    fee_income,
    merchant_payable,
    user_wallet,
)

__all__ = [
    "channel_fee_expense",
    "channel_receivable",
    "fee_income",
    "merchant_payable",
    "user_wallet",
]
