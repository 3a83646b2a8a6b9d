"""The platform's reserve (备付金) account at the bank: what moves it and its balance by date.

Channels settle into it: this bank, as card acquirer, pays each day's takings (its successful
charges less its fees and the day's refunds) some time after the day ends; the wallets' (and
any other institution's) settlements arrive as credit transfers they send. A settlement may be
short-paid or never come (the dials). Payouts the bank makes for the platform debit it (with
the bank's fee), and a payout returned (退票) credits it back. The platform moves its own funds
in by transfers from its own account (channelsim.reserve_fundings). Settlements and fundings are
decided once and kept in the journal; payout movements are read off the payouts themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from channelsim.banktime import SHANGHAI, from_epoch
from channelsim.faults import Dice, Faults
from channelsim.journal import Journal, records_of
from channelsim.payouts import RETURNED, Payout
from channelsim.refunds import RefundRecord
from channelsim.reserve_fundings import FUNDING_RECORD, Funding
from channelsim.store import SUCCESS, Transaction

_log = logging.getLogger(__name__)

SETTLEMENT_RECORD = "reserve_settlement"
CREDIT = "CRDT"
DEBIT = "DBIT"


def settlement_reference(channel: str, business_date: date) -> str:
    """The end-to-end id a channel's settlement of a date is sent under."""
    return f"STL-{channel}-{business_date.strftime('%Y%m%d')}"


@dataclass(frozen=True)
class Settlement:
    """A channel's settlement of one business date into the reserve account, as decided: due
    `amount`, paid `paid` (less when short-paid), or never (`missing`)."""

    channel: str
    business_date: date
    currency: str
    amount: int
    paid: int
    missing: bool
    bank_ref: str
    booked_at: float
    payer: str

    @property
    def end_to_end_id(self) -> str:
        return settlement_reference(self.channel, self.business_date)

    def to_record(self) -> dict[str, Any]:
        return {
            "record": SETTLEMENT_RECORD,
            "channel": self.channel,
            "business_date": self.business_date.isoformat(),
            "currency": self.currency,
            "amount": self.amount,
            "paid": self.paid,
            "missing": self.missing,
            "bank_ref": self.bank_ref,
            "booked_at": self.booked_at,
            "payer": self.payer,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Settlement:
        return cls(
            channel=str(record["channel"]),
            business_date=date.fromisoformat(str(record["business_date"])),
            currency=str(record["currency"]),
            amount=int(record["amount"]),
            paid=int(record["paid"]),
            missing=bool(record["missing"]),
            bank_ref=str(record["bank_ref"]),
            booked_at=float(record["booked_at"]),
            payer=str(record["payer"]),
        )

    def view(self) -> dict[str, Any]:
        """As the admin API shows it: the record without the bank's bookkeeping."""
        record = self.to_record()
        shown = ("channel", "business_date", "currency", "amount", "paid", "missing", "bank_ref")
        return {**{k: record[k] for k in shown}, "end_to_end_id": self.end_to_end_id}


@dataclass(frozen=True)
class ReserveEntry:
    """One booked movement of the reserve account, as its statement shows it."""

    bank_ref: str
    booked_at: float
    indicator: str  # CRDT or DBIT
    amount: int  # what moved, charges included
    currency: str
    end_to_end_id: str
    counterparty: str
    remittance: str
    family: str  # ISO bank transaction family: RCDT received, ICDT issued credit transfers
    sub_family: str
    charges: int = 0

    @property
    def signed(self) -> int:
        return self.amount if self.indicator == CREDIT else -self.amount

    @property
    def booking_date(self) -> date:
        return from_epoch(self.booked_at).date()


def acquirer_takings(
    transactions: Iterable[Transaction],
    refunds: Iterable[RefundRecord],
    *,
    mch_id: str,
    day: date,
    now: float,
) -> int:
    """What the bank owes the platform for a day as acquirer: the day's successful charges less
    its fees, less the refunds made that day (the fees are not given back)."""
    takings = sum(
        t.amount - t.fee
        for t in transactions
        if t.mch_id == mch_id and t.status_at(now) == SUCCESS and t.trade_time.date() == day
    )
    refunded = sum(
        r.amount for r in refunds if r.code == SUCCESS and from_epoch(r.refunded_at).date() == day
    )
    return takings - refunded


def settle_due_at(day: date, delay_ms: int) -> float:
    """When a day's settlement lands: delay_ms after the day ends (Shanghai)."""
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return day_end.timestamp() + delay_ms / 1000


def _payout_entries(payout: Payout, now: float) -> list[ReserveEntry]:
    """A paid payout debits its amount and the bank's fee when it is paid; a returned one
    credits the amount back when it comes back."""
    status = payout.status_at(now)
    if status not in (SUCCESS, RETURNED):
        return []
    paid_at = payout.settles_at or payout.pay_time.timestamp()
    paid = ReserveEntry(
        bank_ref=payout.payout_no,
        booked_at=paid_at,
        indicator=DEBIT,
        amount=payout.amount + payout.fee,
        currency=payout.currency,
        end_to_end_id=payout.out_payout_no,
        counterparty=payout.payee,
        remittance=f"PAYOUT {payout.out_payout_no}",
        family="ICDT",
        sub_family="ESCT",
        charges=payout.fee,
    )
    if status != RETURNED or payout.returns_at is None:
        return [paid]
    returned = replace(
        paid,
        bank_ref="T" + payout.payout_no[1:],
        booked_at=payout.returns_at,
        indicator=CREDIT,
        amount=payout.amount,
        remittance=f"RETURN {payout.out_payout_no} {payout.return_reason}",
        sub_family="RRTN",
        charges=0,
    )
    return [paid, returned]


def _settlement_entry(settlement: Settlement) -> ReserveEntry:
    return ReserveEntry(
        bank_ref=settlement.bank_ref,
        booked_at=settlement.booked_at,
        indicator=CREDIT,
        amount=settlement.paid,
        currency=settlement.currency,
        end_to_end_id=settlement.end_to_end_id,
        counterparty=settlement.payer,
        remittance=f"SETTLEMENT {settlement.channel} {settlement.business_date.isoformat()}",
        family="RCDT",
        sub_family="ESCT",
    )


def _funding_entry(funding: Funding) -> ReserveEntry:
    return ReserveEntry(
        bank_ref=funding.bank_ref,
        booked_at=funding.booked_at,
        indicator=CREDIT,
        amount=funding.amount,
        currency=funding.currency,
        end_to_end_id=funding.reference,
        counterparty=funding.payer,
        remittance=f"FUNDING {funding.reference}",
        family="RCDT",
        sub_family="BOOK",
    )


class ReserveAccount:
    """The reserve account: settlements by (channel, business date), kept in the journal."""

    def __init__(self, journal: Journal | None = None, *, opening: int = 0) -> None:
        self._journal = journal or Journal()
        self._opening = opening
        self._settlements: dict[tuple[str, date], Settlement] = {}
        self._fundings: dict[str, Funding] = {}
        self._refs: set[str] = set()

    def load(self, records: Iterable[dict[str, Any]]) -> int:
        """Takes the settlements and fundings among the journal's records; returns how many
        settlements."""
        records = list(records)
        for loaded in records_of(records, SETTLEMENT_RECORD, Settlement.from_record):
            self._remember(loaded)
        for funding in records_of(records, FUNDING_RECORD, Funding.from_record):
            self._fundings[funding.reference] = funding
            self._refs.add(funding.bank_ref)
        return len(self._settlements)

    def fundings(self) -> list[Funding]:
        return sorted(self._fundings.values(), key=lambda f: (f.booked_at, f.bank_ref))

    def fund(
        self,
        *,
        reference: str,
        currency: str,
        amount: int,
        payer: str,
        booked_at: float,
        dice: Dice,
    ) -> tuple[Funding, bool]:
        """Books a transfer from the platform's own account once per reference; (the funding,
        whether it is new). A repeat is the one booked before, whatever it asks."""
        existing = self._fundings.get(reference)
        if existing is not None:
            return existing, False
        funding = Funding(
            reference=reference,
            currency=currency,
            amount=amount,
            bank_ref=self._new_ref(from_epoch(booked_at), dice.digits, "F"),
            booked_at=booked_at,
            payer=payer,
        )
        self._journal.append(funding.to_record())
        self._fundings[reference] = funding
        self._refs.add(funding.bank_ref)
        _log.info("reserve funded", extra={"reference": reference, "amount": amount})
        return funding, True

    def get(self, channel: str, business_date: date) -> Settlement | None:
        return self._settlements.get((channel, business_date))

    def settlements(self) -> list[Settlement]:
        return sorted(self._settlements.values(), key=lambda s: (s.booked_at, s.bank_ref))

    def settle(
        self,
        *,
        channel: str,
        business_date: date,
        currency: str,
        amount: int,
        payer: str,
        booked_at: float,
        faults: Faults,
        dice: Dice,
    ) -> Settlement:
        """Decides a channel's settlement of a date once (short-paid or missing by the dials);
        a repeat is the settlement decided before."""
        existing = self.get(channel, business_date)
        if existing is not None:
            return existing
        missing = dice.roll(faults.reserve_missing_rate)
        paid = amount
        if not missing and dice.roll(faults.reserve_short_rate):
            paid = max(amount - faults.reserve_short_fen, 0)
        settlement = Settlement(
            channel=channel,
            business_date=business_date,
            currency=currency,
            amount=amount,
            paid=0 if missing else paid,
            missing=missing,
            bank_ref=self._new_ref(from_epoch(booked_at), dice.digits),
            booked_at=booked_at,
            payer=payer,
        )
        self._journal.append(settlement.to_record())
        self._remember(settlement)
        _log.info(
            "settlement decided",
            extra={
                "channel": channel,
                "business_date": business_date.isoformat(),
                "amount": amount,
                "paid": settlement.paid,
                "missing": missing,
            },
        )
        return settlement

    def entries(self, payouts: Iterable[Payout], now: float) -> list[ReserveEntry]:
        """Every movement booked by now, oldest first."""
        found = [
            _settlement_entry(s)
            for s in self._settlements.values()
            if not s.missing and s.paid > 0 and s.booked_at <= now
        ]
        found += [_funding_entry(f) for f in self._fundings.values() if f.booked_at <= now]
        for payout in payouts:
            found += [e for e in _payout_entries(payout, now) if e.booked_at <= now]
        return sorted(found, key=lambda e: (e.booked_at, e.bank_ref))

    def day(
        self, payouts: Iterable[Payout], day: date, now: float
    ) -> tuple[int, list[ReserveEntry]]:
        """The balance the day opened with and the day's entries booked by now."""
        opening = self._opening
        todays: list[ReserveEntry] = []
        for entry in self.entries(payouts, now):
            if entry.booking_date < day:
                opening += entry.signed
            elif entry.booking_date == day:
                todays.append(entry)
        return opening, todays

    def _new_ref(self, moment: datetime, digits: Callable[[int], str], prefix: str = "S") -> str:
        while True:
            ref = f"{prefix}{moment.strftime('%Y%m%d')}{digits(12)}"
            if ref not in self._refs:
                return ref

    def _remember(self, settlement: Settlement) -> None:
        self._settlements[(settlement.channel, settlement.business_date)] = settlement
        self._refs.add(settlement.bank_ref)
