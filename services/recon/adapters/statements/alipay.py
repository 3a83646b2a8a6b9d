"""Alipay's trade bill (业务明细) and, for robustness, a personal account's export.

The merchant bill comes zipped: a 业务明细 file and a 业务明细(汇总) summary, names and contents
in GBK (read as GB18030, its superset). Around the rows are `#` lines (the account and dates
before, the end marker and the totals after: `#交易合计` with the count and sums of the
payments, `#退款合计` of the refunds), in full-width punctuation; each id is followed by a
tab; a refund is a line of its own with negative amounts. 服务费 is signed from the
merchant's side (a fee charged is negative, one given back positive): it is turned to the
sign of a fee charged here.

A personal export (交易记录明细查询) has a preamble with its totals (共N笔记录, 收入/支出/不计收支
counts and sums) before a 12-column header, and space-padded cells.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from recon.adapters.statements.reading import (
    Item,
    Reader,
    byte_lines,
    columns,
    decode,
    header_name,
    local_time,
    split,
    unknown_header,
    value,
)
from recon.domain.statement_totals import Check
from recon.domain.statements import (
    Direction,
    LineKind,
    MalformedLine,
    Rejection,
    StatementLine,
    StatementRefused,
    exact_decimal,
    money,
    required,
)

_MERCHANT = columns(
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额(元),商家实收(元),支付宝红包(元),集分宝(元),支付宝优惠(元),商家优惠(元),"
    "券核销金额(元),券名称,商家红包消费金额(元),卡消费金额(元),退款批次号/请求号,服务费(元),"
    "分润(元),备注"
)
_PERSONAL = columns(
    "交易时间,交易分类,交易对方,对方账号,商品说明,收/支,金额,收/付款方式,交易状态,交易订单号,"
    "商家订单号,备注"
)
_KNOWN = "an Alipay trade bill (业务明细) or personal export (交易记录明细)"
_ZIP_MAGIC = b"PK\x03\x04"
# Preamble and footer lines kept for the totals they state (a bill has a dozen).
_KEPT_COMMENTS = 200
_MERCHANT_KINDS = {
    "交易": (LineKind.PAYMENT, Direction.CREDIT),
    "退款": (LineKind.REFUND, Direction.DEBIT),
}
# The footer's totals, e.g. "#交易合计:6笔,商家实收共0.06元,商家优惠共0.00元" once made ASCII,
# and the column each of its sums adds up (older bills word them 交易金额 and 交易退款金额).
_FOOTER = re.compile(r"#(交易|退款)合计:(\d+)笔,(.*)")
_FOOTER_SUM = re.compile(r"(.+?)共(-?[0-9.]+)元")
_FOOTER_COLUMNS = {
    "商家实收": "商家实收(元)",
    "商家实收退款": "商家实收(元)",
    "商家优惠": "商家优惠(元)",
    "商家优惠退款": "商家优惠(元)",
    "交易金额": "订单金额(元)",
    "交易退款金额": "订单金额(元)",
}
_SUMMED = ("订单金额(元)", "商家实收(元)", "商家优惠(元)")
# A personal export's preamble: "共66笔记录", "收入:1笔 28.50元".
_PERSONAL_COUNT = re.compile(r"共(\d+)笔记录")
_PERSONAL_SUM = re.compile(r"(收入|支出|不计收支):(\d+)笔\s*(-?[0-9.]+)元")
_PERSONAL_DIRECTIONS = {
    "收入": Direction.CREDIT,
    "支出": Direction.DEBIT,
    "不计收支": Direction.NONE,
}


def _plain(text: str) -> str:
    """Full-width punctuation as ASCII (NFKC), for matching the # lines."""
    return unicodedata.normalize("NFKC", text).strip()


def _bill_file(raw: IO[bytes]) -> IO[bytes]:
    """The 业务明细 file itself: out of the zip when it is one (names in GBK unless flagged
    UTF-8), else the upload as it is."""
    if raw.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
        raw.seek(0)
        return raw
    raw.seek(0)
    try:
        archive = zipfile.ZipFile(raw, metadata_encoding="gb18030")
    except zipfile.BadZipFile as exc:
        raise StatementRefused(0, f"not a readable zip: {exc}") from None
    names = [n for n in archive.namelist() if n.lower().endswith(".csv") and "汇总" not in n]
    details = [n for n in names if n.endswith("业务明细.csv")] or names
    if len(details) != 1:
        listed = ", ".join(archive.namelist()) or "none"
        raise StatementRefused(0, f"the zip holds no single 业务明细 file (entries: {listed})")
    return archive.open(details[0])


def _undamaged(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """The lines, or a refusal at the first that a damaged zip cannot give."""
    number = 0
    try:
        for number, line in lines:
            yield number, line
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise StatementRefused(number + 1, f"the zip is damaged ({exc})") from None


class AlipayBill(Reader):
    """Either layout, told apart by its header; checked against its footer or preamble."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._columns: dict[str, int] = {}
        self._rows = 0
        self._counts: Counter[str] = Counter()
        self._sums: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self._comments: list[str] = []

    def __iter__(self) -> Iterator[Item]:
        lines = _undamaged(byte_lines(_bill_file(self._raw)))
        encoding, personal = self._header(lines)
        row = self._personal if personal else self._merchant
        for number, raw in lines:
            try:
                text = decode(raw, encoding)
                if text.startswith("#"):
                    self._comment(text)
                elif text.strip() and not text.startswith("-"):
                    cells = split(text, ",")
                    if len(cells) != len(self._columns):
                        raise MalformedLine(
                            f"{len(cells)} fields where the header has {len(self._columns)}"
                        )
                    line = row(number, [value(c) for c in cells])
                    self._rows += 1
                    yield line
            except MalformedLine as exc:
                yield Rejection(number, str(exc))
        self.checks = self._personal_checks() if personal else self._merchant_checks()

    def _header(self, lines: Iterator[tuple[int, bytes]]) -> tuple[str, bool]:
        """Reads up to the header: returns the file's encoding and whether it is a personal
        export; keeps the preamble's lines for their totals."""
        for number, raw in lines:
            encoding = "utf-8"
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                encoding = "gb18030"
                text = raw.decode(encoding, errors="replace")
            if text.startswith("#") or "," not in text:
                self._comment(text)
                continue
            cells = [header_name(c) for c in text.split(",")]
            names = tuple(cells[:-1] if cells and not cells[-1] else cells)
            if names not in (_MERCHANT, _PERSONAL):
                raise StatementRefused(number, unknown_header(cells, _KNOWN))
            self._columns = {name: i for i, name in enumerate(cells)}
            return encoding, names == _PERSONAL
        raise StatementRefused(0, f"no header line: not {_KNOWN}")

    def _comment(self, text: str) -> None:
        if len(self._comments) < _KEPT_COMMENTS:
            self._comments.append(_plain(text))

    def _merchant(self, number: int, cells: list[str]) -> StatementLine:
        column = self._columns
        business = cells[column["业务类型"]]
        if business not in _MERCHANT_KINDS:
            raise MalformedLine(f"业务类型 {business!r} is neither 交易 nor 退款")
        kind, direction = _MERCHANT_KINDS[business]
        summed = {c: exact_decimal(cells[column[c]], c) for c in _SUMMED}
        amount = money(cells[column["订单金额(元)"]], "CNY", "订单金额")
        if (amount.minor_units < 0) != (kind is LineKind.REFUND) and amount.minor_units:
            raise MalformedLine(f"a {business} line with amount {amount.format()}")
        order_id = cells[column["商户订单号"]]
        line = StatementLine(
            number,
            kind,
            direction,
            -amount if amount.minor_units < 0 else amount,
            Decimal(0) - exact_decimal(cells[column["服务费(元)"]], "服务费"),
            required(cells[column["支付宝交易号"]], "支付宝交易号"),
            required(order_id, "商户订单号"),
            refund_id=cells[column["退款批次号/请求号"]],
            occurred_at=local_time(cells[column["完成时间"]] or cells[column["创建时间"]]),
            status=business,
        )
        self._counts[business] += 1
        for name, amount_in_column in summed.items():
            self._sums[business, name] += amount_in_column
        return line

    def _personal(self, number: int, cells: list[str]) -> StatementLine:
        column = self._columns
        flow = cells[column["收/支"]]
        direction = _PERSONAL_DIRECTIONS.get(flow or "不计收支")
        if direction is None:
            raise MalformedLine(f"收/支 {flow!r} is none of 收入, 支出, 不计收支")
        state = cells[column["交易状态"]]
        refund = cells[column["交易分类"]] == "退款" or state.startswith("退款")
        text = cells[column["金额"]]
        line = StatementLine(
            number,
            LineKind.REFUND if refund else LineKind.PAYMENT,
            direction,
            money(text, "CNY", "金额"),
            Decimal(0),
            required(cells[column["交易订单号"]], "交易订单号"),
            cells[column["商家订单号"]],
            occurred_at=local_time(cells[column["交易时间"]]),
            status=state,
        )
        self._counts[direction.value] += 1
        self._sums[direction.value, "金额"] += exact_decimal(text, "金额")
        return line

    def _merchant_checks(self) -> list[Check]:
        checks: dict[str, Check] = {
            f"#{kind}合计": Check(f"#{kind}合计", None, self._counts[business])
            for kind, business in (("交易", "交易"), ("退款", "退款"))
        }
        for comment in self._comments:
            footer = _FOOTER.fullmatch(comment)
            if footer is None:
                continue
            kind, count, sums = footer.groups()
            name = f"#{kind}合计"
            checks[name] = Check(f"{name} 笔数", Decimal(count), self._counts[kind])
            for part in sums.split(","):
                found = _FOOTER_SUM.fullmatch(part.strip())
                if found and found.group(1) in _FOOTER_COLUMNS:
                    label, declared = found.groups()
                    counted = self._sums[kind, _FOOTER_COLUMNS[label]]
                    checks[f"{name} {label}"] = Check(f"{name} {label}", Decimal(declared), counted)
        return list(checks.values())

    def _personal_checks(self) -> list[Check]:
        checks = [Check("共N笔记录", None, self._rows)]
        for comment in self._comments:
            if found := _PERSONAL_COUNT.fullmatch(comment):
                checks[0] = Check("共N笔记录", Decimal(found.group(1)), self._rows)
            elif found := _PERSONAL_SUM.fullmatch(comment):
                flow, count, total = found.groups()
                direction = _PERSONAL_DIRECTIONS[flow].value
                checks.append(Check(f"{flow} 笔数", Decimal(count), self._counts[direction]))
                checks.append(Check(f"{flow} 金额", Decimal(total), self._sums[direction, "金额"]))
        return checks
