"""The platform's coupons funded at clearing: what the platform's coupons paid of a trade date's
payments (less what refunds gave back to them) is marketing cost, paid from the platform's own
funds into the reserve (备付金) account, since the merchants are paid it from there.

Clearing books it (own funds to the reserve account, once per currency and trade date); the
platform's treasury moves the money into the reserve account at the bank under the end-to-end
id `CPN-<currency>-<YYYYMMDD>`, and the reserve account's reconciliation matches that entry
with the booking, parking only what differs."""

from __future__ import annotations

import re
from datetime import date, datetime

FUNDING_REFERENCE = re.compile(r"CPN-([A-Z]{3})-([0-9]{8})")


def funding_transfer_id(currency: str, trade_date: date) -> str:
    """The ledger transfer booking a trade date's coupons into the reserve account."""
    return f"fund:coupons:{currency}:{trade_date:%Y-%m-%d}"


def funding_reference(currency: str, trade_date: date) -> str:
    """The end-to-end id the money is moved into the reserve account under at the bank."""
    return f"CPN-{currency}-{trade_date:%Y%m%d}"


def funded_date(end_to_end_id: str) -> tuple[str, date] | None:
    """The currency and trade date a reserve account entry funds coupons of, if it does."""
    found = FUNDING_REFERENCE.fullmatch(end_to_end_id)
    if found is None:
        return None
    try:
        return found.group(1), datetime.strptime(found.group(2), "%Y%m%d").date()
    except ValueError:
        return None
