# ruff: noqa: RUF001  (the bill is written in full-width punctuation)
"""Alipay's trade bill (业务明细) as its download gives it: a zip of two GBK files.

`<账号>_<YYYYMMDD>_业务明细.csv` holds `#` lines (the account and the dates), the 25-column header,
a line per payment (业务类型 交易) and per refund (退款, negative amounts), and `#` lines after
(the end marker, `#交易合计` and `#退款合计` with their counts and sums, the export time), in
full-width punctuation; each id is followed by a tab. 服务费 is signed as the merchant sees it:
a fee charged is negative, one given back positive. `..._业务明细(汇总).csv` sums the day. The
entry names are GBK too, without the zip's UTF-8 flag.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import timedelta

from channelsim.amounts import yuan
from channelsim.banktime import from_epoch
from walletsim.bills import DayBill

ENCODING = "gb18030"  # GBK's superset: what Alipay writes ("ANSI" on a Chinese Windows)
HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,"
    "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)
SUMMARY_HEADER = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,"
    "支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
_RULE = "#-----------------------------------------"


def account(mch_id: str) -> str:
    """The bill's 账号: the merchant's (made-up, stable) 2088 partner id and 0156."""
    digits = str(int(hashlib.sha256(mch_id.encode()).hexdigest(), 16))[:12]
    return f"2088{digits}0156"


def _time(moment: float | None) -> str:
    return "" if moment is None else from_epoch(moment).strftime("%Y-%m-%d %H:%M:%S")


def _cn_time(moment: float) -> str:
    return from_epoch(moment).strftime("%Y年%m月%d日 %H:%M:%S")


def _preamble(title: str, bill: DayBill, mch_id: str, listing: str) -> list[str]:
    start = bill.start
    end = start + timedelta(days=1)
    return [
        f"#支付宝{title}查询",
        f"#账号：[{account(mch_id)}]",
        f"#起始日期：[{start:%Y年%m月%d日 %H:%M:%S}]   终止日期：[{end:%Y年%m月%d日 %H:%M:%S}]",
        f"{_RULE}{listing}{'-' * 40}",
    ]


def _csv(rows: Iterable[Sequence[str]]) -> list[str]:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().splitlines()


def _details(bill: DayBill, mch_id: str) -> list[str]:
    rows: list[Sequence[str]] = []
    for t in bill.payments:
        amount = yuan(t.amount)
        rows.append(
            (
                f"{t.trade_no}\t", f"{t.out_trade_no}\t", "交易\t", t.subject,
                _time(t.created_at), _time(t.decided_at), "\t", "", "", "", t.buyer_login,
                amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
                "\t", yuan(-t.fee), "0.00", "",
            )
        )  # fmt: skip
    for r, t in bill.refunds:
        amount = yuan(-r.amount)
        rows.append(
            (
                f"{t.trade_no}\t", f"{r.out_trade_no}\t", "退款\t", t.subject,
                _time(t.created_at), _time(r.created_at), "\t", "", "", "", t.buyer_login,
                amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
                f"{r.out_refund_no}\t", yuan(r.fee), "0.00", "",
            )
        )  # fmt: skip
    paid = sum(t.amount for t in bill.payments)
    refunded = sum(r.amount for r, _ in bill.refunds)
    return [
        *_preamble("业务明细", bill, mch_id, "业务明细列表"),
        HEADER,
        *_csv(rows),
        f"{_RULE}业务明细列表结束{'-' * 36}",
        f"#交易合计：{len(bill.payments)}笔，商家实收共{yuan(paid)}元，商家优惠共0.00元",
        f"#退款合计：{len(bill.refunds)}笔，商家实收退款共{yuan(-refunded)}元，商家优惠退款共0.00元",
        f"#导出时间：[{_cn_time(bill.made_at)}]",
    ]


def _summary(bill: DayBill, mch_id: str) -> list[str]:
    net = sum(t.amount for t in bill.payments) - sum(r.amount for r, _ in bill.refunds)
    fees = sum(t.fee for t in bill.payments) - sum(r.fee for r, _ in bill.refunds)
    total = (
        "合计", "", str(len(bill.payments)), str(len(bill.refunds)), yuan(net), yuan(net),
        "0.00", "0.00", "0.00", yuan(-fees), "0.00", yuan(net - fees),
    )  # fmt: skip
    return [
        *_preamble("业务汇总", bill, mch_id, "业务汇总列表"),
        SUMMARY_HEADER,
        *_csv([total]),
        f"{_RULE}业务汇总列表结束{'-' * 36}",
        f"#导出时间：[{_cn_time(bill.made_at)}]",
    ]


def _gbk_named_zip(entries: dict[str, bytes], moment: float) -> bytes:
    """A zip whose entry names are GBK bytes with no UTF-8 flag, as Alipay's are: Python's
    zipfile writes only ASCII or flagged UTF-8 names, so ASCII placeholders of the same length
    are written, then swapped for the encoded names (a name is in no checksum)."""
    stamp = from_epoch(moment).timetuple()[:6]
    buffer = io.BytesIO()
    swaps = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, content) in enumerate(entries.items()):
            encoded = name.encode(ENCODING)
            placeholder = f"~{index:03d}".ljust(len(encoded), "~").encode()
            swaps.append((placeholder, encoded))
            archive.writestr(zipfile.ZipInfo(placeholder.decode(), stamp), content)
    data = buffer.getvalue()
    for placeholder, encoded in swaps:
        data = data.replace(placeholder, encoded)
    return data


def file_name(bill: DayBill, mch_id: str) -> str:
    return f"{account(mch_id)}_{bill.day:%Y%m%d}.csv.zip"


def trade_bill(bill: DayBill, mch_id: str) -> bytes:
    """The day's zipped trade bill: details and summary, GBK, CRLF line ends."""
    stem = f"{account(mch_id)}_{bill.day:%Y%m%d}"

    def text(lines: list[str]) -> bytes:
        return ("\r\n".join(lines) + "\r\n").encode(ENCODING)

    return _gbk_named_zip(
        {
            f"{stem}_业务明细.csv": text(_details(bill, mch_id)),
            f"{stem}_业务明细(汇总).csv": text(_summary(bill, mch_id)),
        },
        bill.made_at,
    )
