"""The demo data `make run` seeds: a merchant, a real-named user with a bound card."""

from __future__ import annotations

import hashlib

MERCHANT_ID = "M100001"
MERCHANT_NAME = "Demo Merchant"
USER_ID = "U100001"
CHANNEL = "banksim"
CURRENCY = "CNY"

# Public test values, not a real person: the GB 11643 standard's example ID, a test phone,
# and a Luhn-valid test card number.
USER_NAME = "张三"
USER_ID_NUMBER = "11010519491231002X"
USER_PHONE = "13800138000"
CARD_NUMBER = "6222020200112345679"
CARD_BANK = "ICBC"
# The demo merchant's settlement bank account (a test number).
SETTLEMENT_ACCOUNT_NO = "6222020200112345"


def agreement_no(card_number: str) -> str:
    """The quick-pay agreement number the bank issues when the card is bound."""
    return "AGR" + hashlib.sha256(card_number.encode()).hexdigest()[:20].upper()
