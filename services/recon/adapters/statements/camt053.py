"""ISO 20022 camt.053 (BankToCustomerStatement), versions .001.02 to .001.08.

Read as a stream of parse events, one input line at a time (so every entry knows its line),
each entry taken off the tree once read: a file of any size holds one entry in memory. A
batch-booked entry (one Ntry, many TxDtls) is expanded into its transactions, which must add up
to the entry (and to its Btch totals); an entry with one transaction is one line with the
entry's amount. Credits are payments and debits refunds. Per statement, the opening booked
balance (OPBD, or PRCD) plus the booked entries must give the closing one (CLBD); TxsSummry's
counts and sums, where given, must agree with the entries.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

from paysuite.money import Money
from recon.adapters.statements.reading import Item, Reader, byte_lines
from recon.domain.statement_totals import Amount, Check
from recon.domain.statements import (
    Direction,
    LineKind,
    MalformedLine,
    Rejection,
    StatementLine,
    StatementRefused,
    exact_decimal,
    money,
)

_NAMESPACE = re.compile(r"\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0([2-8])\}Document")
_OPENING = ("OPBD", "PRCD")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


@functools.cache
def _qualified(namespace: str, path: str) -> str:
    """ "NtryDtls/Btch" as ElementTree finds it in the namespace."""
    return "/".join(f"{namespace}{part}" for part in path.split("/"))


class _Node:
    """Namespace-free lookups under one element: find("NtryDtls/Btch/NbOfTxs")."""

    def __init__(self, element: Element, namespace: str) -> None:
        self.element = element
        self._ns = namespace

    def _path(self, path: str) -> str:
        return _qualified(self._ns, path)

    def find(self, path: str) -> _Node | None:
        found = self.element.find(self._path(path))
        return None if found is None else _Node(found, self._ns)

    def all(self, path: str) -> list[_Node]:
        return [_Node(e, self._ns) for e in self.element.iterfind(self._path(path))]

    def text(self, path: str) -> str:
        found = self.element.find(self._path(path))
        return (found.text or "").strip() if found is not None else ""

    def amount(self, path: str) -> Money | None:
        """The amount at path in the currency its Ccy names, as written (unsigned)."""
        found = self.element.find(self._path(path))
        if found is None:
            return None
        return money(found.text or "", found.get("Ccy", ""), path)

    def written(self, path: str) -> Amount:
        """The amount at path exactly as written, in any currency, signed by the CdtDbtInd
        beside it."""
        found = self.element.find(self._path(path))
        text = "" if found is None else found.text or ""
        amount = exact_decimal(text, path)
        sign = -1 if self.text("CdtDbtInd") == "DBIT" else 1
        return Amount(found.get("Ccy", "") if found is not None else "", sign * amount)


def _signed(amount: Money, indicator: str) -> Money:
    return -amount if indicator == "DBIT" else amount


class _Statement:
    """What one Stmt states and what its entries add up to."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.name = ""
        self.balances: dict[str, Amount] = {}
        self.booked: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.entries = 0
        self.counts: Counter[str] = Counter()
        self.sums: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.summary: _Node | None = None

    def checks(self) -> list[Check]:
        label = f"statement {self.name or f'at line {self.number}'}"
        checks: list[Check] = []
        opening = next((self.balances[c] for c in _OPENING if c in self.balances), None)
        closing = self.balances.get("CLBD")
        if opening is not None and closing is not None:
            counted = Amount(opening.currency, opening.value + self.booked[opening.currency])
            checks.append(
                Check(f"{label}: opening balance + booked entries", closing, counted, balance=True)
            )
        if self.summary is not None:
            checks += self._summary_checks(label, self.summary)
        return checks

    def _summary_checks(self, label: str, summary: _Node) -> list[Check]:
        checks = []
        if total := summary.text("TtlNtries/NbOfNtries"):
            checks.append(Check(f"{label}: TtlNtries", Decimal(total), self.entries))
        for side, indicator in (("TtlCdtNtries", "CRDT"), ("TtlDbtNtries", "DBIT")):
            if count := summary.text(f"{side}/NbOfNtries"):
                checks.append(Check(f"{label}: {side}", Decimal(count), self.counts[indicator]))
            if total := summary.text(f"{side}/Sum"):
                counted = self.sums[indicator]
                checks.append(Check(f"{label}: {side} sum", Decimal(total), counted))
        return checks


class Camt053(Reader):
    known = "an ISO 20022 camt.053.001.02 to .08 statement"

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        # The line each entry and transaction being read started on.
        self._starts: dict[int, int] = {}

    def __iter__(self) -> Iterator[Item]:
        parser: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
        namespace = ""
        path: list[Element] = []
        statement: _Statement | None = None
        for number, raw in byte_lines(self._raw):
            try:
                parser.feed(raw + b"\n")
                events = list(parser.read_events())
            except ParseError as exc:
                raise StatementRefused(number, f"not well-formed XML ({exc})") from None
            for event_and_element in events:
                event, element = event_and_element[0], event_and_element[-1]
                assert isinstance(element, Element)  # only start and end events are asked for
                tag = element.tag
                if event == "start":
                    if not path:
                        namespace = self._namespace(number, element)
                        stmt, numbered = (
                            f"{namespace}Stmt",
                            {f"{namespace}Ntry", f"{namespace}TxDtls"},
                        )
                    elif tag in numbered:
                        self._starts[id(element)] = number
                    elif tag == stmt:
                        statement = _Statement(number)
                    path.append(element)
                    continue
                path.pop()
                if statement is not None and path and path[-1].tag == stmt:
                    node = _Node(element, namespace)
                    line = self._starts.get(id(element), number)
                    yield from self._statement_child(_local(tag), node, line, statement)
                    self._starts.clear()  # an entry's lines (entries do not nest)
                    path[-1].remove(element)
                elif tag == stmt and statement is not None:
                    self.checks += statement.checks()
                    statement = None
                    if path:
                        path[-1].remove(element)
        if path or not namespace:
            raise StatementRefused(0, "the XML ends before its document does: cut short?")

    def _namespace(self, number: int, root: Element) -> str:
        if _NAMESPACE.fullmatch(root.tag) is None:
            raise StatementRefused(number, f"unknown root element {root.tag!r}: not {self.known}")
        return root.tag.rpartition("}")[0] + "}"

    def _statement_child(
        self, tag: str, node: _Node, number: int, statement: _Statement
    ) -> Iterator[Item]:
        if tag == "Id":
            statement.name = node.element.text or ""
        elif tag == "Bal":
            code = node.text("Tp/CdOrPrtry/Cd")
            try:
                statement.balances[code] = node.written("Amt")
            except MalformedLine as exc:
                yield Rejection(number, f"balance {code}: {exc}")
        elif tag == "TxsSummry":
            statement.summary = node
        elif tag == "Ntry":
            try:
                yield from self._entry(node, number, statement)
            except MalformedLine as exc:
                yield Rejection(number, str(exc))

    def _entry(self, entry: _Node, number: int, statement: _Statement) -> Iterator[StatementLine]:
        unsigned = entry.amount("Amt")
        if unsigned is None:
            raise MalformedLine("an entry with no Amt")
        indicator = entry.text("CdtDbtInd")
        amount = _signed(unsigned, indicator)
        status = entry.text("Sts/Cd") or entry.text("Sts")
        details = entry.all("NtryDtls/TxDtls")
        lines = [self._line(entry, tx, number, status, amount, len(details)) for tx in details]
        lines = lines or [self._line(entry, None, number, status, amount, 1)]
        statement.entries += 1
        statement.counts[indicator] += 1
        statement.sums[indicator] += abs(entry.written("Amt").value)
        if status == "BOOK":
            written = entry.written("Amt")
            statement.booked[written.currency] += written.value
        self.checks += self._batch_checks(entry, number, amount, lines)
        yield from lines

    def _line(
        self, entry: _Node, tx: _Node | None, number: int, status: str, amount: Money, count: int
    ) -> StatementLine:
        """One transaction: the entry's amount when it is alone, its own in a batch."""
        if count > 1 and tx is not None:
            own = tx.amount("AmtDtls/TxAmt/Amt") or tx.amount("Amt")
            if own is None:
                raise MalformedLine("a batched transaction with no amount")
            entry_indicator = "DBIT" if amount.minor_units < 0 else "CRDT"
            amount = _signed(own, tx.text("CdtDbtInd") or entry_indicator)
            number = self._starts.get(id(tx.element), number)
        refs = tx.find("Refs") if tx is not None else None
        end_to_end = refs.text("EndToEndId") if refs is not None else ""
        servicer_ref = (refs.text("AcctSvcrRef") if refs is not None else "") or entry.text(
            "AcctSvcrRef"
        )
        credit = amount.minor_units >= 0
        return StatementLine(
            number,
            LineKind.PAYMENT if credit else LineKind.REFUND,
            Direction.CREDIT if credit else Direction.DEBIT,
            amount if credit else -amount,
            Decimal(0),
            servicer_ref or entry.text("NtryRef"),
            "" if end_to_end == "NOTPROVIDED" else end_to_end,
            occurred_at=_booked_at(entry),
            status=status,
        )

    @staticmethod
    def _batch_checks(
        entry: _Node, number: int, amount: Money, lines: list[StatementLine]
    ) -> list[Check]:
        """A batch's transactions against its entry and its Btch totals."""
        if len(lines) < 2 and entry.find("NtryDtls/Btch") is None:
            return []
        label = f"entry at line {number}"
        signed = sum(
            (ln.amount.minor_units if ln.direction is Direction.CREDIT else -ln.amount.minor_units)
            for ln in lines
        )
        checks = []
        if len(lines) > 1:
            name = f"{label}: its transactions (in minor units of {amount.currency})"
            checks.append(Check(name, amount.minor_units, signed))
        if count := entry.text("NtryDtls/Btch/NbOfTxs"):
            checks.append(Check(f"{label}: Btch NbOfTxs", Decimal(count), len(lines)))
        return checks


def _booked_at(entry: _Node) -> datetime | None:
    text = entry.text("BookgDt/DtTm") or entry.text("BookgDt/Dt")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedLine(f"BookgDt {text!r} is not a date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
