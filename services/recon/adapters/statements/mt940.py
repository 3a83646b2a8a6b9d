"""SWIFT MT940 customer statements: tagged lines, one statement per `:20:` up to a `-`.

A `:61:` line is a transaction (value date, entry date, C/D or the reversals RC/RD, amount with
a decimal comma, type, our reference, `//` the bank's); `:60F:`/`:60M:` is the opening balance,
`:62F:`/`:62M:` the closing one, and opening plus the lines must give closing. Lines that do not
start a tag continue the one before (narratives, supplementary details). Bank preambles before
the first tag (ABN AMRO's `ABNANL2A` / `940`) are passed over; the first tag must be `:20:`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO

from recon.adapters.statements.reading import Item, Reader, byte_lines
from recon.domain.statement_totals import Amount, Check
from recon.domain.statements import (
    Direction,
    LineKind,
    MalformedLine,
    Rejection,
    StatementLine,
    StatementRefused,
    money,
)

_TAG = re.compile(r":(\d\d[A-Z]?):(.*)")
_BALANCE = re.compile(r"([CD])(\d{6})([A-Z]{3})(\d+,\d*)")
_LINE = re.compile(
    r"(?P<value>\d{6})(?P<entry>\d{4})?\s*(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d+,\d*)(?P<type>[NSF][A-Z0-9]{3})(?P<ours>[^/]*)(?://(?P<bank>.*))?"
)
# What a bank may put before the first tag: ABN AMRO its BIC, "940" and its BIC again; SWIFT
# block headers ({1:F01...}{2:...}{4:).
_PREAMBLE = re.compile(r"[A-Z0-9]{3,12}|\{[1-5]:.*|")
_CREDITS = {"C", "RD"}  # a reversed debit puts money back


def _decimal(text: str) -> Decimal:
    """ "3236,28" and "9," as exact decimals."""
    return Decimal(text.replace(",", ".").rstrip(".") or "0")


def _booked(value: str, entry: str | None) -> datetime:
    """The entry date (MMDD, in the value date's year or the next) or else the value date."""
    try:
        day = date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
        if entry:
            booked = day.replace(month=int(entry[:2]), day=int(entry[2:]))
            day = booked if (day - booked).days < 180 else booked.replace(year=day.year + 1)
    except ValueError:
        raise MalformedLine(f":61: dates {value} {entry or ''} are not dates") from None
    return datetime.combine(day, datetime.min.time(), UTC)


class _Statement:
    def __init__(self, number: int) -> None:
        self.number = number
        self.name = ""
        self.currency = ""
        self.opening: Amount | None = None
        self.closing: Amount | None = None
        self.moved = Decimal(0)

    def balance(self, text: str) -> Amount:
        found = _BALANCE.fullmatch(text.strip())
        if found is None:
            raise MalformedLine(f"balance {text.strip()!r} is not C/D, YYMMDD, currency, amount")
        side, _, currency, amount = found.groups()
        self.currency = self.currency or currency
        return Amount(currency, -_decimal(amount) if side == "D" else _decimal(amount))

    def check(self) -> list[Check]:
        if self.opening is None or self.closing is None:
            return []
        counted = Amount(self.opening.currency, self.opening.value + self.moved)
        label = f"statement {self.name or f'at line {self.number}'}"
        return [Check(f"{label}: opening balance + lines", self.closing, counted, balance=True)]


class Mt940(Reader):
    known = "a SWIFT MT940 statement"

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw

    def __iter__(self) -> Iterator[Item]:
        statement: _Statement | None = None
        started = False
        for number, raw in byte_lines(self._raw):
            text = _text(raw).rstrip()
            tag = _TAG.match(text)
            if not started:
                started = self._start(number, text, tag)
                if not started:
                    continue
            if tag is None:
                if text.strip() in ("-", "-}") and statement is not None:
                    self.checks += statement.check()
                    statement = None
                continue  # a continuation of the tag before
            code, content = tag.groups()
            if code == "20":
                if statement is not None:
                    self.checks += statement.check()
                statement = _Statement(number)
                statement.name = content.strip()
            elif statement is None:
                yield Rejection(number, f":{code}: outside a statement (no :20: before it)")
            else:
                yield from self._tag(number, code, content, statement)
        if statement is not None:
            self.checks += statement.check()
        if not started:
            raise StatementRefused(0, f"no :20: tag: not {self.known}")

    def _start(self, number: int, text: str, tag: re.Match[str] | None) -> bool:
        """Whether the statement starts at this line; refuses a file that starts otherwise."""
        if tag is not None and tag.group(1) == "20":
            return True
        if tag is not None or not _PREAMBLE.fullmatch(text.strip()):
            raise StatementRefused(number, f"{text[:40]!r} where a :20: tag starts {self.known}")
        return False

    def _tag(self, number: int, code: str, content: str, statement: _Statement) -> Iterator[Item]:
        try:
            if code in ("28", "28C") and statement.name:
                statement.name = f"{statement.name} {content.strip()}"
            elif code in ("60F", "60M"):
                statement.opening = statement.balance(content)
            elif code in ("62F", "62M"):
                statement.closing = statement.balance(content)
            elif code == "61":
                yield self._line(number, content, statement)
        except MalformedLine as exc:
            yield Rejection(number, str(exc))

    @staticmethod
    def _line(number: int, content: str, statement: _Statement) -> StatementLine:
        found = _LINE.fullmatch(content.strip())
        if found is None:
            raise MalformedLine(f":61: {content.strip()!r} is not a statement line")
        if not statement.currency:
            raise MalformedLine(":61: before the opening balance names the currency")
        credit = found["mark"] in _CREDITS
        amount = _decimal(found["amount"])
        booked = _booked(found["value"], found["entry"])
        statement.moved += amount if credit else -amount
        ours = found["ours"].strip()
        return StatementLine(
            number,
            LineKind.PAYMENT if credit else LineKind.REFUND,
            Direction.CREDIT if credit else Direction.DEBIT,
            money(str(amount), statement.currency, ":61: amount"),
            Decimal(0),
            (found["bank"] or "").strip(),
            "" if ours == "NONREF" else ours,
            occurred_at=booked,
            status=found["mark"],
        )


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # some banks' narratives: never refuse a line for them
