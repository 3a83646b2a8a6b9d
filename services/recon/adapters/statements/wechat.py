"""WeChat Pay's bills: the trade bill (ALL, SUCCESS or REFUND) and the fund-flow bill.

Both are a header row, detail rows, then a totals block: a row naming the totals and a row of
their values. Values carry a leading backtick (so Excel keeps ids whole) and are not quoted;
the V2 sandbox wrote tab-separated bills with no backticks, `2016/5/4 2:18` times and ids in
scientific notation. The header names the layout; any other header is refused. Times are
Beijing time.
"""

from __future__ import annotations

from abc import abstractmethod
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

_HEAD = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额"  # noqa: E501
_TRADE_LAYOUTS = {
    columns(f"{_HEAD},{tail}"): name
    for name, tail in {
        "ALL": "微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
        "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
        "SUCCESS": "商品名称,商户数据包,手续费,费率,订单金额,费率备注",
        "REFUND": "退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
        "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
    }.items()
}
# The sandbox and older bills name the sub-merchant column 子商户号.
_ALIASES = {"子商户号": "特约商户号"}
# Each total of the trade bill's totals block and the detail column it sums.
_TRADE_SUMS = {
    "应结订单总金额": "应结订单金额",
    "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额",
    "手续费总金额": "手续费",
    "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
}
_PAYMENT_STATES = {"SUCCESS", "REVOKED"}
# Most of a line's summed columns are zero: read without parsing.
_ZEROES = {text: Decimal(text) for text in ("0", "0.00", "0.00000")}

_FUNDFLOW_LAYOUT = columns(
    "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),"
    "账户结余(元),资金变更提交申请人,备注,业务凭证号"
)
_DIRECTIONS = {"收入": Direction.CREDIT, "支出": Direction.DEBIT}


def _cells(text: str, separator: str) -> list[str]:
    # Every value starts with a backtick: splitting on ",`" keeps commas inside a value (商品名称
    # and 商户数据包 are free text) where a plain split would not.
    if text.startswith("`"):
        return text[1:].split(separator + "`")
    return [value(cell) for cell in text.split(separator)]


class _Bill(Reader):
    """Header, detail rows and totals block: what both WeChat bills share."""

    known = ""
    totals_marker = ""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._columns: dict[str, int] = {}
        self.rows = 0

    def __iter__(self) -> Iterator[Item]:
        lines = byte_lines(self._raw)
        separator = self._header(lines)
        totals: dict[str, str] | None = None
        for number, raw in lines:
            try:
                text = decode(raw, "utf-8")
                if not text.strip():
                    continue
                cells = _cells(text, separator)
                if header_name(cells[0]) == self.totals_marker:
                    totals = self._totals(cells, lines, separator)
                    break
                if len(cells) != len(self._columns):
                    raise MalformedLine(
                        f"{len(cells)} fields where the header has {len(self._columns)}"
                    )
                line = self._row(number, cells)
                self.rows += 1
                yield line
            except MalformedLine as exc:
                yield Rejection(number, str(exc))
        for number, raw in lines:
            if raw.strip():
                yield Rejection(number, "a line after the totals")
        self.checks = self._checks(totals)

    def _header(self, lines: Iterator[tuple[int, bytes]]) -> str:
        for number, raw in lines:
            text = raw.decode("utf-8", errors="replace")
            if not text.strip():
                continue
            separator = "\t" if "\t" in text and "," not in text else ","
            names = [header_name(c) for c in text.split(separator)]
            columns = tuple(_ALIASES.get(n, n) for n in names)
            if not self._knows(columns):
                raise StatementRefused(number, unknown_header(names, self.known))
            self._columns = {name: i for i, name in enumerate(columns)}
            return separator
        raise StatementRefused(0, f"the file is empty: not {self.known}")

    @staticmethod
    def _totals(
        names: list[str], lines: Iterator[tuple[int, bytes]], separator: str
    ) -> dict[str, str] | None:
        """The totals' values (on the line after their names), by name."""
        for _, raw in lines:
            text = raw.decode("utf-8", errors="replace")
            if text.strip():
                values = _cells(text, separator)
                return {header_name(n): v for n, v in zip(names, values, strict=False) if n}
        return None

    @abstractmethod
    def _knows(self, columns: tuple[str, ...]) -> bool: ...

    @abstractmethod
    def _row(self, number: int, cells: list[str]) -> StatementLine: ...

    @abstractmethod
    def _checks(self, totals: dict[str, str] | None) -> list[Check]: ...


def _amount(text: str, name: str) -> Decimal:
    zero = _ZEROES.get(text)
    return exact_decimal(text, name) if zero is None else zero


def _declared(totals: dict[str, str] | None, name: str) -> Decimal | None:
    """A total as the file states it; None when the file has none or it is unreadable."""
    text = (totals or {}).get(name)
    try:
        return None if text is None else exact_decimal(text, name)
    except MalformedLine:
        return None


class TradeBill(_Bill):
    """The trade bill: a line per payment (SUCCESS, REVOKED) and per refund (REFUND).

    A payment's amount is its 订单金额, a refund's its 申请退款金额 (what was asked for, as our
    records have it); 手续费 is kept at its five decimals, negative on a refund that gave the
    fee back. In the ALL bill a refund's 交易时间 is its payment's: the REFUND bill's
    退款成功时间 is used where there is one.
    """

    known = "a WeChat Pay trade bill (ALL, SUCCESS or REFUND)"
    totals_marker = "总交易单数"

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(raw)
        self._sums: defaultdict[str, Decimal] = defaultdict(Decimal)
        # The detail columns the totals sum, and where they are.
        self._summed: list[tuple[str, int]] = []

    def _knows(self, columns: tuple[str, ...]) -> bool:
        if columns not in _TRADE_LAYOUTS:
            return False
        self._summed = [(c, columns.index(c)) for c in _TRADE_SUMS.values() if c in columns]
        return True

    def _row(self, number: int, cells: list[str]) -> StatementLine:
        column = self._columns

        def get(name: str) -> str:
            index = column.get(name)
            return "" if index is None else cells[index]

        fee = exact_decimal(get("手续费"), "手续费")
        summed = {name: _amount(cells[index], name) for name, index in self._summed}
        state = get("交易状态")
        currency = get("货币种类") or "CNY"
        if state == "REFUND":
            line = StatementLine(
                number,
                LineKind.REFUND,
                Direction.DEBIT,
                money(get("申请退款金额") or get("退款金额"), currency, "申请退款金额"),
                fee,
                required(get("微信订单号"), "微信订单号"),
                required(get("商户订单号"), "商户订单号"),
                get("微信退款单号"),
                required(get("商户退款单号"), "商户退款单号"),
                local_time(get("退款成功时间") or get("退款申请时间") or get("交易时间")),
                get("退款状态"),
            )
        elif state in _PAYMENT_STATES:
            line = StatementLine(
                number,
                LineKind.PAYMENT,
                Direction.CREDIT,
                money(get("订单金额"), currency, "订单金额"),
                fee,
                required(get("微信订单号"), "微信订单号"),
                required(get("商户订单号"), "商户订单号"),
                occurred_at=local_time(get("交易时间")),
                status=state,
            )
        else:
            raise MalformedLine(f"交易状态 {state!r} is neither a payment nor a refund")
        for column_name, amount in summed.items():
            self._sums[column_name] += amount
        return line

    def _checks(self, totals: dict[str, str] | None) -> list[Check]:
        checks = [Check("总交易单数", _declared(totals, "总交易单数"), self.rows)]
        for total, column in _TRADE_SUMS.items():
            if totals is None or total in totals:
                checks.append(Check(total, _declared(totals, total), self._sums[column]))
        return checks


class FundFlowBill(_Bill):
    """The fund-flow bill: every movement on the merchant's WeChat Pay account.

    交易 lines are payments, 退款 refunds, a 业务类型 naming 手续费 a fee (charged when paid
    out, given back when paid in), anything else a transfer. Each line's 账户结余 must follow
    from the line before it; the first line that does not is a balance break.
    """

    known = "a WeChat Pay fund-flow bill"
    totals_marker = "资金流水总笔数"

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(raw)
        self._sums: defaultdict[str, Decimal] = defaultdict(Decimal)
        self._counts: Counter[Direction] = Counter()
        self._balance: Decimal | None = None
        self._break: Check | None = None

    def _knows(self, columns: tuple[str, ...]) -> bool:
        return columns == _FUNDFLOW_LAYOUT

    def _row(self, number: int, cells: list[str]) -> StatementLine:
        column = self._columns
        direction = _DIRECTIONS.get(cells[column["收支类型"]])
        if direction is None:
            raise MalformedLine(f"收支类型 {cells[column['收支类型']]!r} is neither 收入 nor 支出")
        text = cells[column["收支金额(元)"]]
        amount = exact_decimal(text, "收支金额")
        balance = exact_decimal(cells[column["账户结余(元)"]], "账户结余")
        business = cells[column["业务类型"]]
        kind = {"交易": LineKind.PAYMENT, "退款": LineKind.REFUND}.get(business, LineKind.TRANSFER)
        if "手续费" in business:
            kind = LineKind.FEE
        line = StatementLine(
            number,
            kind,
            direction,
            money(text, "CNY", "收支金额"),
            (amount if direction is Direction.DEBIT else -amount)
            if kind is LineKind.FEE
            else Decimal(0),
            required(cells[column["微信支付业务单号"]], "微信支付业务单号"),
            cells[column["业务凭证号"]],
            occurred_at=local_time(cells[column["记账时间"]]),
            status=business,
        )
        self._follow(number, amount if direction is Direction.CREDIT else -amount, balance)
        self._counts[direction] += 1
        self._sums[direction.value] += amount
        return line

    def _follow(self, number: int, change: Decimal, balance: Decimal) -> None:
        expected = balance if self._balance is None else self._balance + change
        if expected != balance and self._break is None:
            self._break = Check(f"账户结余 at line {number}", balance, expected, balance=True)
        self._balance = balance

    def _checks(self, totals: dict[str, str] | None) -> list[Check]:
        checks = [
            Check("资金流水总笔数", _declared(totals, "资金流水总笔数"), self.rows),
            Check("收入笔数", _declared(totals, "收入笔数"), self._counts[Direction.CREDIT]),
            Check("收入金额", _declared(totals, "收入金额"), self._sums["credit"]),
            Check("支出笔数", _declared(totals, "支出笔数"), self._counts[Direction.DEBIT]),
            Check("支出金额", _declared(totals, "支出金额"), self._sums["debit"]),
        ]
        if self._break is not None:
            checks.append(self._break)
        elif self._balance is not None:
            checks.append(Check("账户结余 after the last line", self._balance, self._balance, True))
        return checks
