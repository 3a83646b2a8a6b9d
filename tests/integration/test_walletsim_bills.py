"""The wallet simulators' daily bills over real HTTP, in each wallet's published layout, read by
recon's own importers: what the wallet did that day (payments, refunds, fees, a payment it
answered as failed but took), and the bill's faults on demand (late, a line left out, a line
added, the corrected file sent again). A bill comes in the wallets' two steps: the bill request
answers a download URL valid 30 s (WeChat Pay's with the file's SHA1), the file is then fetched
from there (WeChat Pay's download signed as any request, Alipay's admitted by the URL alone)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import secrets
import time
import zipfile
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from recon.adapters.statements import open_reader
from recon.domain.statement_totals import StatementSummary, Tally
from recon.domain.statements import LineKind, StatementFormat, StatementLine
from tests.integration.test_walletsim import PAID, pay, query
from tests.integration.wallet_client import (
    WalletClient,
    running_wallet,
    wallet_settings,
)
from walletsim.settings import Flavour

SECRET = "wallet-bill-secret"
NOWHERE = "http://127.0.0.1:9/notify"  # notifications fail at once: bills do not need them
FORMATS = {Flavour.ALIPAY: StatementFormat.ALIPAY, Flavour.WECHAT: StatementFormat.WECHAT}


@contextlib.asynccontextmanager
async def _running(flavour: Flavour) -> AsyncIterator[WalletClient]:
    async with running_wallet(wallet_settings(flavour, SECRET, fee_bps=60)) as client:
        await client.set_faults(notify_max_attempts=1)
        yield client


@pytest.fixture(params=[Flavour.ALIPAY, Flavour.WECHAT], ids=lambda f: f.value)
async def wallet(request: pytest.FixtureRequest) -> AsyncIterator[WalletClient]:
    async with _running(request.param) as client:
        yield client


@pytest.fixture
async def alipay() -> AsyncIterator[WalletClient]:
    async with _running(Flavour.ALIPAY) as client:
        yield client


@pytest.fixture
async def wechat() -> AsyncIterator[WalletClient]:
    async with _running(Flavour.WECHAT) as client:
        yield client


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))


def _no() -> str:
    return f"pay_{secrets.token_hex(8)}"


async def bill(w: WalletClient) -> bytes:
    """Today's bill file, in the wallet's two steps."""
    return await w.fetch_bill(_today())


def read(w: WalletClient, content: bytes) -> tuple[list[StatementLine], StatementSummary]:
    """The bill as recon imports it (every line read, its totals checked)."""
    reader = open_reader(FORMATS[w.flavour], io.BytesIO(content))
    tally = Tally()
    lines = [line for line in tally.count(reader) if isinstance(line, StatementLine)]
    return lines, tally.summary(reader.checks)


async def refund(w: WalletClient, no: str, refund_no: str, fen: int, total: int) -> None:
    if w.flavour is Flavour.ALIPAY:
        content = {
            "out_trade_no": no,
            "refund_amount": f"{fen / 100:.2f}",
            "out_request_no": refund_no,
        }
        assert (await w.alipay("alipay.trade.refund", content))["code"] == "10000"
        return
    payload = {
        "out_trade_no": no,
        "out_refund_no": refund_no,
        "amount": {"refund": fen, "total": total, "currency": "CNY"},
    }
    assert (await w.call("POST", "/v3/refund/domestic/refunds", payload)).status == 200


async def set_bill_faults(w: WalletClient, **faults: object) -> dict[str, object]:
    result: dict[str, object] = await w.admin("POST", f"/_admin/bills/{_today()}/faults", faults)
    return result


async def test_the_bill_lists_the_days_payments_refunds_and_fees(wallet: WalletClient) -> None:
    first, second, declined = _no(), _no(), _no()
    await pay(wallet, first, 1000, NOWHERE)
    await pay(wallet, second, 234, NOWHERE)
    await wallet.set_faults(decline_rate=1)
    await pay(wallet, declined, 999, NOWHERE)  # the buyer could not pay: not on the bill
    await refund(wallet, first, "rf-bill", 250, 1000)
    content = await bill(wallet)
    lines, summary = read(wallet, content)
    assert [(x.kind, x.order_id, x.amount.minor_units, x.fee) for x in lines] == [
        (LineKind.PAYMENT, first, 1000, Decimal("0.06")),
        (LineKind.PAYMENT, second, 234, Decimal("0.01")),
        (LineKind.REFUND, first, 250, Decimal("-0.02")),
    ]
    assert lines[2].refund_id == "rf-bill"
    assert lines[0].channel_transaction_id == lines[2].channel_transaction_id
    assert summary.rejected == 0 and summary.control_totals_consistent, summary.breaks
    assert content == await bill(wallet)  # the same day's bill is the same file


async def test_the_wechat_bill_is_the_all_trade_bill(wechat: WalletClient) -> None:
    wallet = wechat
    paid = _no()
    await pay(wallet, paid, 1234, NOWHERE)
    await refund(wallet, paid, "rf-w", 400, 1234)
    text = (await bill(wallet)).decode("utf-8")
    header, payment, refunded, totals_names, totals = text.splitlines()
    assert header.split(",")[:7] == [
        "交易时间",
        "公众账号ID",
        "商户号",
        "特约商户号",
        "设备号",
        "微信订单号",
        "商户订单号",
    ]
    assert len(header.split(",")) == 27 and header.endswith("订单金额,申请退款金额,费率备注")
    cells = [c.removeprefix("`") for c in payment.split(",")]
    assert all(c.startswith("`") for c in payment.split(","))
    assert (cells[6], cells[9], cells[12], cells[22], cells[23]) == (
        paid,
        "SUCCESS",
        "12.34",
        "0.07000",
        "0.60%",
    )
    cells = [c.removeprefix("`") for c in refunded.split(",")]
    assert (cells[9], cells[12], cells[15], cells[16], cells[22], cells[25]) == (
        "REFUND",
        "0.00",
        "rf-w",
        "4.00",
        "-0.02000",
        "4.00",
    )
    assert totals_names.startswith("总交易单数,应结订单总金额,退款总金额")
    assert totals == "`2,`12.34,`4.00,`0.00,`0.05000,`12.34,`4.00"


async def test_the_alipay_bill_is_a_zip_of_gbk_files(alipay: WalletClient) -> None:
    wallet = alipay
    paid = _no()
    await pay(wallet, paid, 1000, NOWHERE)
    await refund(wallet, paid, "rf-a", 300, 1000)
    url, sha1 = await wallet.bill_location(_today())
    assert sha1 == ""  # Alipay names no hash
    assert f"bizDates={_today().replace('-', '')}" in url and "token=" in url
    reply = await wallet.download_bill(url)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/zip")
    assert wallet.header not in reply.headers  # a file server's answer, unsigned
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    assert all(not info.flag_bits & 0x800 for info in archive.infolist())  # names not UTF-8
    names = [info.orig_filename.encode("cp437").decode("gb18030") for info in archive.infolist()]
    day = _today().replace("-", "")
    assert [n.split("_", 1)[1] for n in names] == [
        f"{day}_业务明细.csv",
        f"{day}_业务明细(汇总).csv",
    ]
    details = archive.read(archive.infolist()[0]).decode("gb18030").split("\r\n")
    assert details[0] == "#支付宝业务明细查询"
    assert details[1].startswith("#账号：[2088") and details[1].endswith("0156]")  # noqa: RUF001
    assert details[4].startswith("支付宝交易号,商户订单号,业务类型")
    payment, refunded = details[5].split(","), details[6].split(",")
    assert (payment[1], payment[2], payment[11], payment[22]) == (
        f"{paid}\t",
        "交易\t",
        "10.00",
        "-0.06",
    )
    assert (refunded[2], refunded[11], refunded[21], refunded[22]) == (
        "退款\t",
        "-3.00",
        "rf-a\t",
        "0.02",
    )
    assert "#交易合计：1笔，商家实收共10.00元，商家优惠共0.00元" in details  # noqa: RUF001
    assert "#退款合计：1笔，商家实收退款共-3.00元，商家优惠退款共0.00元" in details  # noqa: RUF001


async def test_a_payment_answered_as_failed_but_taken_is_on_the_bill(wallet: WalletClient) -> None:
    no = _no()
    await wallet.set_faults(false_failure_rate=1)
    answer = await pay(wallet, no, 500, NOWHERE)
    assert answer["_state"] in ("ACQ.BUYER_BALANCE_NOT_ENOUGH", "NOT_ENOUGH")
    assert await query(wallet, no) == PAID[wallet.flavour]  # the wallet took the money
    lines, _ = read(wallet, await bill(wallet))
    assert [(x.order_id, x.amount.minor_units) for x in lines] == [(no, 500)]


async def test_a_late_bill_is_not_available_until_its_time(wallet: WalletClient) -> None:
    await pay(wallet, _no(), 100, NOWHERE)
    shown = await set_bill_faults(wallet, late_seconds=0.5)
    assert shown["available"] is False
    early = await wallet.ask_bill(_today())
    wallet.assert_signed(early)
    if wallet.flavour is Flavour.ALIPAY:
        answer = early.json()["alipay_data_dataservice_bill_downloadurl_query_response"]
        assert (early.status, answer["sub_code"]) == (200, "isp.bill_not_exist")
    else:
        assert (early.status, early.json()["code"]) == (400, "STATEMENT_CREATING")
    await asyncio.sleep(0.6)
    lines, _ = read(wallet, await bill(wallet))
    assert len(lines) == 1


async def test_lines_left_out_and_added_then_the_corrected_bill(wallet: WalletClient) -> None:
    kept, left_out = _no(), _no()
    await pay(wallet, kept, 100, NOWHERE)
    await pay(wallet, left_out, 200, NOWHERE)
    shown = await set_bill_faults(wallet, omit=[left_out], extra_lines=2)
    assert (shown["omit"], shown["extra_lines"], shown["version"]) == ([left_out], 2, 1)
    faulty = await bill(wallet)
    lines, summary = read(wallet, faulty)
    orders = [x.order_id for x in lines]
    assert kept in orders and left_out not in orders and len(orders) == 3
    made_up = [x for x in lines if x.order_id != kept]
    assert all(x.kind is LineKind.PAYMENT and x.amount.minor_units > 0 for x in made_up)
    assert summary.control_totals_consistent  # the totals add up what the file lists
    assert faulty == await bill(wallet)  # the same made-up lines every time
    corrected = await wallet.admin("POST", f"/_admin/bills/{_today()}/correct")
    assert (corrected["omit"], corrected["extra_lines"], corrected["version"]) == ([], 0, 2)
    again = await bill(wallet)
    assert again != faulty
    lines, summary = read(wallet, again)
    assert sorted(x.order_id for x in lines) == sorted([kept, left_out])
    assert summary.control_totals_consistent


async def test_bill_faults_are_checked(wallet: WalletClient) -> None:
    url = f"{wallet.base_url}/_admin/bills/{_today()}/faults"
    for bad in ({"extra_lines": -1}, {"late_seconds": "soon"}, {"missing": 1}):
        async with wallet.session.post(url, json=bad) as response:
            assert response.status == 400
    async with wallet.session.post(
        f"{wallet.base_url}/_admin/bills/2026-13-01/correct"
    ) as response:
        assert response.status == 400


async def test_the_wechat_bill_is_downloaded_from_its_url_and_is_the_file_hashed(
    wechat: WalletClient,
) -> None:
    await pay(wechat, _no(), 700, NOWHERE)
    url, sha1 = await wechat.bill_location(_today())
    assert url.startswith(f"{wechat.base_url}/v3/billdownload/file?token=")
    got = await wechat.download_bill(url)
    assert got.status == 200 and got.headers["Content-Type"].startswith("text/csv")
    assert hashlib.sha1(got.body, usedforsecurity=False).hexdigest() == sha1
    assert wechat.header not in got.headers  # unsigned: the hash was given with the URL
    # The download is signed as any API v3 request: unsigned, it is refused.
    path = url.removeprefix(wechat.base_url)
    assert (await wechat.call("GET", path, signature="")).status == 401
    # A token the wallet never gave is no file.
    forged = await wechat.call("GET", "/v3/billdownload/file?token=forged")
    assert (forged.status, forged.json()["code"]) == (404, "RESOURCE_NOT_EXISTS")


async def test_a_download_cut_short_is_not_the_file_the_hash_names(wallet: WalletClient) -> None:
    await pay(wallet, _no(), 900, NOWHERE)
    url, sha1 = await wallet.bill_location(_today())
    whole = await wallet.download_bill(url)
    await wallet.set_faults(bill_download_corrupt_rate=1)
    try:
        cut = await wallet.download_bill(url)
    finally:
        await wallet.set_faults(bill_download_corrupt_rate=0)
    assert cut.status == 200 and 0 < len(cut.body) < len(whole.body)
    if sha1:
        assert hashlib.sha1(whole.body, usedforsecurity=False).hexdigest() == sha1
        assert hashlib.sha1(cut.body, usedforsecurity=False).hexdigest() != sha1


async def test_an_alipay_download_url_needs_its_token(alipay: WalletClient) -> None:
    await pay(alipay, _no(), 400, NOWHERE)
    url, _ = await alipay.bill_location(_today())
    assert (await alipay.download_bill(url)).status == 200
    forged = url.split("token=")[0] + "token=forged"
    assert (await alipay.download_bill(forged)).status == 404
