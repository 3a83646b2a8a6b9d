"""How a channel's date is reconciled three ways: the rules, as a reference model. No I/O.

Three sources meet, each an item per transaction: the channel's bill (a line), the gateway's
record (a payment or a refund) and the ledger's postings on the channel's receivable account
(one transfer: a payment's capture or a refund). Items are keyed by kind and our id (the
payment or refund id, which the channel has as its merchant order or refund number) and put
in a hash bucket by it; the columnar engine (recon.adapters.engine) runs the same rules over
millions of rows a bucket range at a time, and a test holds it to this model.

Within a key, the bill line whose channel transaction id is the gateway's is the one compared
(the channel's id first); any other line of the key is a DUPLICATE. A bill line and a gateway
record left alone after that, both with the same channel id, are then paired by it (our id
second: a bill that garbled our order number still matches by the channel's). A pair is then
compared on state, amount and currency, fee, and last the ledger. A transaction missing from a
side near the day-cut is CARRIED to the next date's run instead of being reported, once; an
open long or short item comes back into every later run and resolves when it matches.
"""

from __future__ import annotations

import enum
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace


class Outcome(enum.Enum):
    MATCHED = "matched"
    LONG = "long"  # 长款: the channel has it succeeded; we have no record of it
    SHORT = "short"  # 短款: we have it succeeded; the channel's bill does not
    AMOUNT_MISMATCH = "amount_mismatch"
    STATE_MISMATCH = "state_mismatch"  # one side has it succeeded, the other not
    FEE_MISMATCH = "fee_mismatch"
    DUPLICATE = "duplicate"  # the bill lists it again
    LEDGER_MISMATCH = "ledger_mismatch"  # channel and gateway agree, the ledger does not
    CARRIED = "carried"  # missing on a side near the day-cut: matched on the next date

    @property
    def is_difference(self) -> bool:
        return self not in (Outcome.MATCHED, Outcome.CARRIED)


class Kind(enum.Enum):
    PAYMENT = "payment"
    REFUND = "refund"

    @property
    def sign(self) -> int:
        """+1 when the money goes to us (a payment), -1 when back to the payer."""
        return 1 if self is Kind.PAYMENT else -1


# Gateway states in which the channel holds (or, for a refund, gave back) the money.
SUCCEEDED_STATES = frozenset({"succeeded", "duplicate"})


@dataclass(frozen=True, slots=True)
class BillItem:
    """A bill line: `fee` in minor units (rounded half away from zero), None when the bill has
    none; `at` in epoch seconds; `open_id` the open discrepancy it came back with."""

    kind: Kind
    key: str
    channel_id: str
    currency: str
    amount: int
    fee: int | None
    succeeded: bool
    moment: int
    line_no: int
    carried: bool = False
    open_id: str = ""


@dataclass(frozen=True, slots=True)
class OurItem:
    """The gateway's record: `fee` is the channel fee booked (None for a refund)."""

    kind: Kind
    key: str
    channel_id: str
    currency: str
    amount: int
    fee: int | None
    state: str
    moment: int
    flagged: bool = False
    merchant_id: str = ""
    carried: bool = False
    open_id: str = ""
    # The traceparent a flagged payment was created under, as the gateway keeps it.
    traceparent: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCEEDED_STATES


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """One transfer's entries on the channel's receivable account."""

    kind: Kind
    key: str
    currency: str
    debit: int
    credit: int
    moment: int
    carried: bool = False
    open_id: str = ""

    @property
    def net(self) -> int:
        return self.debit - self.credit


@dataclass(frozen=True, slots=True)
class CarryWindow:
    """Instants (epoch seconds) around the date's cut: the channel's bill day ends at
    bill_cut, ours (the gateway's Shanghai calendar day) at our_cut; an item missing from a
    side and stamped within `seconds` of either, or between them, is carried."""

    bill_cut: int
    our_cut: int
    seconds: int

    def near(self, moment: int) -> bool:
        low = min(self.bill_cut, self.our_cut) - self.seconds
        high = max(self.bill_cut, self.our_cut) + self.seconds
        return low <= moment <= high


@dataclass(frozen=True, slots=True)
class Finding:
    outcome: Outcome
    kind: Kind
    key: str
    bill: BillItem | None = None
    ours: OurItem | None = None
    ledger: LedgerItem | None = None
    duplicate_rank: int = 0

    @property
    def currency(self) -> str:
        present = self.bill or self.ours or self.ledger
        assert present is not None, "a finding has at least one side"
        return present.currency

    @property
    def open_id(self) -> str:
        """The open discrepancy this finding came back with, if any."""
        for item in (self.bill, self.ours, self.ledger):
            if item is not None and item.open_id:
                return item.open_id
        return ""

    @property
    def suspense_amount(self) -> int:
        """Signed minor units to park: positive when the channel holds more than our books say
        (the receivable is debited, suspense credited), negative when less."""
        return suspense_amount(self)

    def discrepancy_id(self, channel: str) -> str:
        return discrepancy_id(channel, self)


def suspense_amount(finding: Finding) -> int:
    b, g, ledger, sign = finding.bill, finding.ours, finding.ledger, finding.kind.sign
    match finding.outcome:
        case Outcome.LONG | Outcome.DUPLICATE:
            return sign * b.amount if b else 0
        case Outcome.SHORT:
            return -sign * g.amount if g else 0
        case Outcome.STATE_MISMATCH:
            amount = (b.amount if b and b.succeeded else 0) - (g.amount if g and g.succeeded else 0)
            return sign * amount
        case Outcome.AMOUNT_MISMATCH:
            return sign * ((b.amount if b else 0) - (g.amount if g else 0))
        case Outcome.FEE_MISMATCH:
            return -((b.fee or 0) - (g.fee or 0)) if b and g else 0
        case Outcome.LEDGER_MISMATCH:
            return expected_net(g) - (ledger.net if ledger else 0)
    return 0


def expected_net(ours: OurItem | None) -> int:
    """What the gateway's record puts on the receivable: a capture less the channel's fee, a
    refund's amount out; nothing for what did not succeed."""
    if ours is None or not ours.succeeded:
        return 0
    if ours.kind is Kind.PAYMENT:
        return ours.amount - (ours.fee or 0)
    return -ours.amount


def discrepancy_id(channel: str, finding: Finding) -> str:
    """Derived from what differs, so the same difference found again (a re-run, an open item
    coming back) has the same id, and its suspense transfer is posted once."""
    b, g, ledger = finding.bill, finding.ours, finding.ledger
    parts = [
        channel,
        finding.outcome.value,
        finding.kind.value,
        finding.key,
        "" if b is None else f"{b.channel_id}:{b.currency}:{b.amount}:{b.fee}:{b.succeeded}",
        "" if g is None else f"{g.currency}:{g.amount}:{g.fee}:{g.succeeded}",
        "" if ledger is None else f"{ledger.net}",
        str(finding.duplicate_rank),
    ]
    return "dis_" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:28]


def compare(b: BillItem | None, g: OurItem | None, ledger: LedgerItem | None) -> Outcome:
    """The outcome of one transaction's items (the bill line compared, if any)."""
    if b is None and g is None:
        return Outcome.LEDGER_MISMATCH if ledger is not None and ledger.net else Outcome.MATCHED
    if g is None:
        assert b is not None
        return Outcome.LONG if b.succeeded else Outcome.MATCHED
    if b is None:
        if g.succeeded:
            return Outcome.SHORT
    elif b.succeeded != g.succeeded:
        return Outcome.STATE_MISMATCH
    elif g.succeeded and (b.currency != g.currency or b.amount != g.amount):
        return Outcome.AMOUNT_MISMATCH
    elif g.succeeded and b.fee is not None and g.fee is not None and b.fee != g.fee:
        return Outcome.FEE_MISMATCH
    if expected_net(g) != (ledger.net if ledger else 0):
        return Outcome.LEDGER_MISMATCH
    return Outcome.MATCHED


def _missing_side(finding: Finding) -> bool:
    if finding.outcome in (Outcome.LONG, Outcome.SHORT):
        return True
    return finding.outcome is Outcome.LEDGER_MISMATCH and (
        finding.ledger is None or (finding.bill is None and finding.ours is None)
    )


def _carry(finding: Finding, window: CarryWindow) -> Finding:
    present = [i for i in (finding.ours, finding.bill, finding.ledger) if i is not None]
    if not _missing_side(finding) or any(i.carried for i in present):
        return finding
    return replace(finding, outcome=Outcome.CARRIED) if window.near(present[0].moment) else finding


def _bill_order(g: OurItem | None) -> Callable[[BillItem], tuple[bool, bool, int]]:
    def order(b: BillItem) -> tuple[bool, bool, int]:
        by_channel = g is not None and g.channel_id != "" and b.channel_id == g.channel_id
        return (not by_channel, not b.carried, b.line_no)

    return order


def _pair_orphans(findings: list[Finding]) -> list[Finding]:
    """Long lines and short records with the same channel id are one transaction whose our id
    differs between the two: compared as a pair, under the gateway's id."""
    longs: dict[tuple[Kind, str], list[Finding]] = defaultdict(list)
    for f in findings:
        if f.outcome is Outcome.LONG and f.bill and f.bill.channel_id:
            longs[f.kind, f.bill.channel_id].append(f)
    for waiting in longs.values():
        waiting.sort(key=lambda f: (f.bill.line_no if f.bill else 0, f.key))
    paired: set[int] = set()
    out: list[Finding] = []
    for f in findings:
        g = f.ours
        queue = longs.get((f.kind, g.channel_id)) if g is not None else None
        if f.outcome is Outcome.SHORT and g is not None and g.channel_id and queue:
            partner = queue.pop(0)
            paired.add(id(partner))
            b = partner.bill
            out.append(Finding(compare(b, g, f.ledger), f.kind, f.key, b, g, f.ledger))
            continue
        out.append(f)
    return [f for f in out if id(f) not in paired]


def reconcile(
    bills: Iterable[BillItem],
    ours: Iterable[OurItem],
    ledger: Iterable[LedgerItem],
    window: CarryWindow,
) -> list[Finding]:
    """Every transaction's finding (matched ones too), one per extra bill line as DUPLICATE."""
    by_key: dict[tuple[Kind, str], tuple[list[BillItem], list[OurItem], list[LedgerItem]]]
    by_key = defaultdict(lambda: ([], [], []))
    for bill_item in bills:
        by_key[bill_item.kind, bill_item.key][0].append(bill_item)
    for our_item in ours:
        by_key[our_item.kind, our_item.key][1].append(our_item)
    for ledger_item in ledger:
        by_key[ledger_item.kind, ledger_item.key][2].append(ledger_item)
    findings: list[Finding] = []
    for (kind, key), (bs, gs, ls) in sorted(by_key.items(), key=lambda i: (i[0][0].value, i[0][1])):
        record = gs[0] if gs else None
        entry = ls[0] if ls else None
        bs.sort(key=_bill_order(record))
        line = bs[0] if bs else None
        findings.append(Finding(compare(line, record, entry), kind, key, line, record, entry))
        findings.extend(
            Finding(Outcome.DUPLICATE, kind, key, extra, record, None, rank)
            for rank, extra in enumerate(bs[1:], start=1)
        )
    return [_carry(f, window) for f in _pair_orphans(findings)]
