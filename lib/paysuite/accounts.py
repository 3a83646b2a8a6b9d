"""The ledger's account-naming contract: the ids of the accounts payments are booked to.

The gateway posts to them, the dev seed creates them, payctl reads their balances; the ledger
itself treats an account id as opaque. Plain Python, so any of them can import it.
"""

from __future__ import annotations


def merchant_payable(merchant_id: str, currency: str) -> str:
    """What the platform owes the merchant (liability)."""
    return f"merchant.{merchant_id}.payable.{currency}"


def channel_receivable(channel: str, currency: str) -> str:
    """What the channel owes the platform until it settles (asset)."""
    return f"channel.{channel}.receivable.{currency}"


def channel_payouts(channel: str, currency: str) -> str:
    """What the channel has paid out of the platform's reserve account for it (payouts and their
    fees), until the reserve account's statement shows the money gone (liability)."""
    return f"channel.{channel}.payouts.{currency}"


def channel_fee_expense(currency: str) -> str:
    """What the platform pays channels for processing (expense)."""
    return f"platform.channel_fee_expense.{currency}"


def user_wallet(user_id: str, currency: str) -> str:
    """What the platform owes a user in their platform wallet (liability, no overdraft)."""
    return f"user.{user_id}.wallet.{currency}"


def fee_income(currency: str) -> str:
    """What the platform earns of merchants' payments (income)."""
    return f"platform.fee_income.{currency}"
