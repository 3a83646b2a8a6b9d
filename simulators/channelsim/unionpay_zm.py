"""The card channel's daily bill as a UnionPay (银联全渠道) acquirer publishes it: the ZM file.

A ZM file (一般交易流水) has no header or trailer: one fixed-width line per transaction, GBK,
fields padded to their width in bytes (text left-aligned with spaces, numbers zero-filled) with
one space between them, in the 42-field layout of the platform's SDK. A charge is trade code S22
(消费), a refund S30 (退货) carrying its order's query id, trace and time as the original
transaction's. Amounts are fen in 12 digits; the merchant fee and the settlement amounts are
X+n12, the letter the sign: D a debit of the merchant, C a credit. The bank keeps its fee when it
refunds, so a refund's fee is D000000000000 and its settlement a debit of the amount.

The download is a zip, as fileTransfer's fileContent is once base64-decoded and inflated: the
ZM entry INN<yyMMdd>88ZM_<merchant id> and an empty ZME (差错) entry beside it. Entries carry
the bill date's stamp and the zip's comment the file's version, so the same bill is the same
bytes every time it is fetched and a corrected one differs. Lines are the card bill's
(channelsim.statement.bill_lines): the same Shanghai day, the same faults of the bill.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from channelsim.banktime import SHANGHAI
from channelsim.bill_faults import BillFaults
from channelsim.statement import REFUND, BankBook, BillLine, bill_lines

_log = logging.getLogger(__name__)

ENCODING = "gbk"
# The field widths in bytes, in order (the SDK's parseZMFile): 交易代码, 代理机构标识码,
# 发送机构标识码, 系统跟踪号, 交易传输时间, 帐号, 交易金额, 商户类别, 终端类型, 查询流水号,
# 支付方式(旧), 商户订单号, 支付卡类型, 原始交易系统跟踪号, 原始交易日期时间, 商户手续费,
# 结算金额, 支付方式, 集团商户代码, 交易类型, 交易子类, 业务类型, 帐号类型, 账单类型, 账单号码,
# 交互方式, 原交易查询流水号, 商户代码, 分账入账方式, 二级商户代码, 二级商户简称,
# 二级商户分账入账金额, 清算净额, 终端号, 商户自定义域, 优惠金额, 发票金额, 分期付款附加手续费,
# 分期付款期数, 交易介质, 原始交易订单号, 保留使用.
WIDTHS = (
    3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2,
    6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
)  # fmt: skip
LINE_WIDTH = sum(WIDTHS) + len(WIDTHS) - 1
CONSUMPTION = "S22"  # 消费
RETURN = "S30"  # 退货
# The institution codes and the merchant's category and access as this bank writes them.
_ACQUIRER = "48021000"
_MCC = "5399"
_QUICK_PAY = "000301"  # 业务类型: 认证支付 (quick pay on a signed agreement)
_PC_TERMINAL = "07"
_DEBIT_CARD = "01"
_ZERO = "C" + "0" * 12


def entry_name(kind: str, day: date, merchant_id: str) -> str:
    """An entry of the day's zip: INN<yyMMdd>88<kind>_<merchant id>, kind ZM or ZME."""
    return f"INN{day:%y%m%d}88{kind}_{merchant_id}"


def file_name(day: date, merchant_id: str) -> str:
    """The zip's name as the SDK's demo saves it: <merchant id>_<yyyyMMdd>.zip."""
    return f"{merchant_id}_{day:%Y%m%d}.zip"


def _fen(amount: int) -> str:
    return f"{amount:012d}"


def _signed(amount: int, sign: str) -> str:
    """X+n12: the side's letter then fen in 12 digits."""
    return f"{sign}{amount:012d}"


def _moment(at: datetime) -> str:
    """交易传输时间 MMDDhhmmss in Beijing time (no year: the file's date gives it)."""
    return at.astimezone(SHANGHAI).strftime("%m%d%H%M%S")


def _trace(bank_no: str) -> str:
    """系统跟踪号: the last six digits of the bank's number for it."""
    return bank_no[-6:].rjust(6, "0")


class _Fields:
    """The 42 fields of one line, each fitted to its width in GBK bytes."""

    def __init__(self) -> None:
        self.values = [b""] * len(WIDTHS)

    def put(self, index: int, text: str) -> None:
        raw = text.encode(ENCODING)
        width = WIDTHS[index]
        if len(raw) > width:
            # An id longer than its field (ours may be 64 characters, UnionPay's orderId 32) is
            # cut as a fixed-width file must; recon then finds the line under another id.
            _log.warning("zm field cut to its width", extra={"field": index, "width": width})
            raw = raw[:width].decode(ENCODING, errors="ignore").encode(ENCODING)
        self.values[index] = raw

    def line(self) -> bytes:
        return b" ".join(v.ljust(w) for v, w in zip(self.values, WIDTHS, strict=True))


def _line(line: BillLine, original_at: datetime | None, merchant_id: str, short_name: str) -> bytes:
    refund = line.trade_type == REFUND
    amount = abs(line.amount)
    fields = _Fields()
    fields.put(0, RETURN if refund else CONSUMPTION)
    fields.put(1, _ACQUIRER)
    fields.put(2, _ACQUIRER)
    own_no = line.refund_no if refund else line.trade_no
    fields.put(3, _trace(own_no))
    fields.put(4, _moment(line.at))
    fields.put(6, _fen(amount))
    fields.put(7, _MCC)
    fields.put(8, _PC_TERMINAL)
    fields.put(9, own_no)
    fields.put(11, line.out_refund_no if refund else line.out_trade_no)
    fields.put(12, _DEBIT_CARD)
    fields.put(13, _trace(line.trade_no) if refund else "000000")
    fields.put(14, _moment(original_at) if refund and original_at else "0000000000")
    # The fee is the merchant's debit; a refund's is none (the bank keeps the charge's).
    fields.put(15, _signed(line.fee, "D"))
    settled = _signed(amount, "D") if refund else _signed(amount - line.fee, "C")
    fields.put(16, settled)
    fields.put(19, "04" if refund else "01")  # txnType: 退货 or 消费
    fields.put(20, "00" if refund else "01")
    fields.put(21, _QUICK_PAY)
    fields.put(22, "01")
    fields.put(26, line.trade_no if refund else "")
    fields.put(27, merchant_id)
    fields.put(30, short_name)
    fields.put(32, settled)
    fields.put(35, _ZERO)
    fields.put(36, _ZERO)
    fields.put(37, "0" * 12)
    fields.put(40, line.out_trade_no if refund else "")
    return fields.line()


def zm_lines(
    book: BankBook, *, day: date, now: float, faults: BillFaults, short_name: str = ""
) -> list[bytes]:
    """The day's ZM lines (GBK bytes, no line ends), faults of the bill applied."""
    originals = {t.out_trade_no: t.trade_time for t in book.transactions}
    return [
        _line(line, originals.get(line.out_trade_no), book.mch_id, short_name)
        for line in bill_lines(book, day, now, faults)
    ]


def _zip(entries: Sequence[tuple[str, bytes]], day: date, version: int) -> bytes:
    made = day + timedelta(days=1)
    stamp = (made.year, made.month, made.day, 6, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(zipfile.ZipInfo(name, stamp), content, zipfile.ZIP_DEFLATED)
        archive.comment = f"version={version}".encode()
    return buffer.getvalue()


def render_zm(
    book: BankBook, *, day: date, now: float, faults: BillFaults, short_name: str = ""
) -> bytes:
    """The day's zip: the ZM file (CRLF line ends) and an empty ZME."""
    lines = zm_lines(book, day=day, now=now, faults=faults, short_name=short_name)
    zm = b"".join(line + b"\r\n" for line in lines)
    return _zip(
        [(entry_name("ZM", day, book.mch_id), zm), (entry_name("ZME", day, book.mch_id), b"")],
        day,
        faults.version,
    )
