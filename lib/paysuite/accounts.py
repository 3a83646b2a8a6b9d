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


def marketing_cost(currency: str) -> str:
    """What the platform spends on the coupons it pays merchants for its payers (expense)."""
    return f"platform.marketing_cost.{currency}"


def user_wallet(user_id: str, currency: str) -> str:
    """What the platform owes a user in their platform wallet (liability, no overdraft)."""
    return f"user.{user_id}.wallet.{currency}"


def fee_income(currency: str) -> str:
    """What the platform earns of merchants' payments (income)."""
    return f"platform.fee_income.{currency}"


def merchant_to_settle(merchant_id: str, currency: str) -> str:
    """Cleared for the merchant, waiting for its settlement date (待结算, liability)."""
    return f"merchant.{merchant_id}.to_settle.{currency}"


def merchant_settling(merchant_id: str, currency: str) -> str:
    """In a settlement payout; a failed or returned one's money waits here (结算中, liability)."""
    return f"merchant.{merchant_id}.settling.{currency}"


def merchant_reserve(merchant_id: str, currency: str) -> str:
    """Rolling reserve held back of the merchant's settlements (liability)."""
    return f"merchant.{merchant_id}.reserve.{currency}"


def settlement_advance(currency: str) -> str:
    """What the platform advanced of its own funds to pay D+0 settlements before the channels'
    money arrived (asset)."""
    return f"platform.settlement_advance.{currency}"


def own_funds(currency: str) -> str:
    """The platform's own funds (自有资金) account (asset)."""
    return f"platform.own_funds.{currency}"
