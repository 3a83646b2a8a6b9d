"""UnionPay's (银联全渠道) merchant reconciliation file ZM (一般交易流水), zipped or plain.

A ZM file has neither header nor trailer: each line is one transaction in fixed-width fields,
GBK, padded to their width in bytes with one space between them. The layout is told by the
width of the first line and its field separators, against the known versions of the field
table (the 42 fields of the platform SDK's parseZMFile, 607 bytes; the newer 46, 608 bytes):
a file of any other shape is refused at that line, a later line of another width is rejected
on its own. The fields read are the same in both: 交易代码 (S22 消费 a payment, S30 退货 a
refund), 交易传输时间 (MMDDhhmmss, Beijing time, the year from the file's date), 交易金额 (fen in
12 digits), 查询流水号 (queryId), 商户订单号 (orderId), 商户手续费 (X+n12: D charged to the
merchant, C given back), and for a refund its original's 原交易查询流水号 and 原始交易订单号.
The file states no totals.

Downloaded, the file is a zip (fileTransfer's fileContent once base64-decoded and inflated)
holding INN<yyMMdd>88ZM_<merchant id> beside the ZME (差错) and other entries: the ZM entry is
read, its name giving the year of the lines' dates. A plain ZM file's year is the one that puts
a line's date nearest today.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO

from paysuite.money import Money
from recon.adapters.statements.reading import SHANGHAI, Item, Reader, byte_lines
from recon.domain.statements import (
    Direction,
    LineKind,
    MalformedLine,
    Rejection,
    StatementLine,
    StatementRefused,
    required,
)

ENCODING = "gb18030"  # GBK's superset: a GBK file reads the same
_ZIP_MAGIC = b"PK\x03\x04"
_SPACE = ord(" ")
_ENTRY = re.compile(r"(?:.*/)?IN[A-Z]([0-9]{6})[0-9]{2}ZM_[^/]*")
_TRADE_CODE = re.compile(rb"[A-Z][0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_KINDS = {
    "S22": (LineKind.PAYMENT, Direction.CREDIT),  # 消费
    "S30": (LineKind.REFUND, Direction.DEBIT),  # 退货
}
_FEE_SIGNS = {"D": 1, "C": -1}
# The fields read, by their index in both versions of the table.
_CODE, _TIME, _AMOUNT, _QUERY_ID, _ORDER_ID, _FEE, _ORIGINAL_QUERY_ID, _ORIGINAL_ORDER_ID = (
    0, 4, 6, 9, 11, 15, 26, 40,
)  # fmt: skip
_V42 = (
    3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2,
    6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
)  # fmt: skip
_V46 = (*_V42[:-1], 13, 2, 1, 12, 67)  # 清算金额, 服务点输入方式码, 移动支付产品标志, 检索参考号


@dataclass(frozen=True)
class Layout:
    """A version of the field table: where each field starts and ends in a line's bytes."""

    name: str
    spans: tuple[tuple[int, int], ...]
    width: int
    separators: tuple[int, ...]

    @classmethod
    def of(cls, name: str, widths: tuple[int, ...]) -> Layout:
        spans, start = [], 0
        for width in widths:
            spans.append((start, start + width))
            start += width + 1
        return cls(name, tuple(spans), start - 1, tuple(end for _, end in spans[:-1]))

    def separated(self, line: bytes) -> bool:
        """Whether the byte between each two fields is a space (the line is the width)."""
        return all(line[at] == _SPACE for at in self.separators)

    def field(self, line: bytes, index: int) -> str:
        start, end = self.spans[index]
        try:
            return line[start:end].decode(ENCODING).strip()
        except UnicodeDecodeError:
            raise MalformedLine(f"field {index + 1} is not GBK text") from None


LAYOUTS = {layout.width: layout for layout in (Layout.of("42", _V42), Layout.of("46", _V46))}
_KNOWN = "a UnionPay ZM line (" + " or ".join(f"{w} bytes" for w in LAYOUTS) + ")"


def _head(raw: IO[bytes]) -> bytes:
    """The file's first bytes, left to be read again (a stream that cannot seek is peeked)."""
    if raw.seekable():
        head = raw.read(len(_ZIP_MAGIC))
        raw.seek(0)
        return head
    peek = getattr(raw, "peek", None)
    return bytes(peek(len(_ZIP_MAGIC))[: len(_ZIP_MAGIC)]) if peek else b""


def _zm_file(raw: IO[bytes]) -> tuple[IO[bytes], date | None]:
    """The ZM file and its date: out of the zip when it is one (the date from the entry's
    name), else the upload as it is."""
    if _head(raw) != _ZIP_MAGIC:
        return raw, None
    try:
        archive = zipfile.ZipFile(raw, metadata_encoding="gb18030")
    except zipfile.BadZipFile as exc:
        raise StatementRefused(0, f"not a readable zip: {exc}") from None
    found = [(n, m) for n in archive.namelist() if (m := _ENTRY.fullmatch(n))]
    if len(found) != 1:
        listed = ", ".join(archive.namelist()) or "none"
        raise StatementRefused(0, f"the zip holds no single ZM file (entries: {listed})")
    name, match = found[0]
    try:
        day = datetime.strptime(match.group(1), "%y%m%d").date()
    except ValueError:
        raise StatementRefused(0, f"the ZM entry {name!r} names no date") from None
    return archive.open(name), day


def _undamaged(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    number = 0
    try:
        for number, line in lines:
            yield number, line
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise StatementRefused(number + 1, f"the zip is damaged ({exc})") from None


def _fen(text: str, what: str) -> int:
    if len(text) != 12 or not _DIGITS.fullmatch(text):
        raise MalformedLine(f"{what} {text!r} is not 12 digits of fen")
    return int(text)


def _fee(text: str) -> Decimal:
    """商户手续费 as a fee charged (D positive, C negative), in yuan to the fen."""
    sign = _FEE_SIGNS.get(text[:1])
    if sign is None:
        raise MalformedLine(f"商户手续费 {text!r} is not D or C and 12 digits")
    return Decimal(sign * _fen(text[1:], "商户手续费")).scaleb(-2)


def _when(text: str, near: date) -> datetime:
    """MMDDhhmmss in Beijing time, in the year that puts it nearest the file's date."""
    if len(text) != 10 or not _DIGITS.fullmatch(text):
        raise MalformedLine(f"交易传输时间 {text!r} is not MMDDhhmmss")
    month, day, hour, minute, second = (int(text[i : i + 2]) for i in range(0, 10, 2))
    best: datetime | None = None
    for year in (near.year, near.year - 1, near.year + 1):
        try:
            moment = datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)
        except ValueError:
            continue
        if best is None or abs(moment.date() - near) < abs(best.date() - near):
            best = moment
    if best is None:
        raise MalformedLine(f"交易传输时间 {text!r} is no date")
    return best


class UnionPayZm(Reader):
    """The ZM file, its layout told by its first line's width; the file states no totals."""

    def __init__(self, raw: IO[bytes], today: date | None = None) -> None:
        super().__init__()
        self._raw = raw
        self._today = today

    def __iter__(self) -> Iterator[Item]:
        stream, day = _zm_file(self._raw)
        near = day or self._today or datetime.now(SHANGHAI).date()
        layout: Layout | None = None
        for number, raw in _undamaged(byte_lines(stream)):
            if not raw.strip():
                continue
            if layout is None:
                layout = self._fingerprint(number, raw)
            try:
                yield self._line(layout, number, raw, near)
            except MalformedLine as exc:
                yield Rejection(number, str(exc))

    @staticmethod
    def _fingerprint(number: int, raw: bytes) -> Layout:
        layout = LAYOUTS.get(len(raw))
        if layout is None or not _TRADE_CODE.fullmatch(raw[:3]) or not layout.separated(raw):
            shown = raw[:24].decode(ENCODING, errors="replace")
            raise StatementRefused(
                number, f"a line of {len(raw)} bytes starting {shown!r}: not {_KNOWN}"
            )
        return layout

    @staticmethod
    def _line(layout: Layout, number: int, raw: bytes, near: date) -> StatementLine:
        if len(raw) != layout.width:
            raise MalformedLine(f"{len(raw)} bytes where the file's lines have {layout.width}")
        if not layout.separated(raw):
            raise MalformedLine("a field runs into the next (no space between them)")
        try:
            raw.decode(ENCODING)
        except UnicodeDecodeError as exc:
            raise MalformedLine(f"not GBK text at byte {exc.start + 1}") from None

        def field(index: int) -> str:
            return layout.field(raw, index)

        code = field(_CODE)
        if code not in _KINDS:
            raise MalformedLine(f"交易代码 {code!r} is neither S22 (消费) nor S30 (退货)")
        kind, direction = _KINDS[code]
        amount = Money(currency="CNY", minor_units=_fen(field(_AMOUNT), "交易金额"))
        occurred_at = _when(field(_TIME), near)
        fee = _fee(field(_FEE))
        query_id = required(field(_QUERY_ID), "查询流水号")
        order_id = required(field(_ORDER_ID), "商户订单号")
        if kind is LineKind.PAYMENT:
            return StatementLine(
                number, kind, direction, amount, fee, query_id, order_id,
                occurred_at=occurred_at, status=code,
            )  # fmt: skip
        return StatementLine(
            number,
            kind,
            direction,
            amount,
            fee,
            required(field(_ORIGINAL_QUERY_ID), "原交易查询流水号"),
            required(field(_ORIGINAL_ORDER_ID), "原始交易订单号"),
            query_id,
            order_id,
            occurred_at=occurred_at,
            status=code,
        )
