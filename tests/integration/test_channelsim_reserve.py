"""The bank simulator's reserve (备付金) account over real HTTP: channels' settlements arriving
(on time, late, short-paid, never), payouts debiting it, returns crediting it, and its day as a
signed camt.053.001.08 statement whose balances close; kept across a restart."""

from __future__ import annotations

import io
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import fromstring

from channelsim.settings import ChannelSimSettings
from recon.adapters.statements import open_reader
from recon.domain.statement_totals import Tally
from recon.domain.statements import Direction, StatementFormat, StatementLine
from tests.integration.bank_client import Reply, simulator_settings
from tests.integration.test_channelsim_http import MCH, SECRET, Bank, running_bank
from tests.integration.test_channelsim_payouts import payout

ACCOUNT = "6216600000000001688"
NS = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}"


def _settings(**overrides: Any) -> ChannelSimSettings:
    return simulator_settings(SECRET, MCH, **overrides)


def _shanghai_today() -> date:
    return date.fromisoformat(time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600)))


async def _statement(bank: Bank, day: date, account: str = ACCOUNT) -> Reply:
    return await bank.call("GET", f"/api/accounts/{account}/statements/{day.isoformat()}")


async def _settle(bank: Bank, **body: Any) -> Reply:
    return await bank.admin("POST", "/_admin/reserve/settlements", body)


def _read(xml: bytes) -> tuple[list[StatementLine], Any]:
    """The statement as recon's camt.053 importer reads it."""
    reader = open_reader(StatementFormat.CAMT053, io.BytesIO(xml), None)
    tally = Tally()
    lines = list(tally.count(reader))
    return lines, tally.summary(reader.checks)


def _balances(xml: bytes) -> dict[str, str]:
    root = fromstring(xml)
    found = {}
    for bal in root.iter(f"{NS}Bal"):
        code = bal.findtext(f"{NS}Tp/{NS}CdOrPrtry/{NS}Cd")
        sign = "-" if bal.findtext(f"{NS}CdtDbtInd") == "DBIT" else ""
        found[str(code)] = sign + str(bal.findtext(f"{NS}Amt"))
    return found


async def test_the_acquirers_takings_arrive_net_of_fees_and_refunds_in_a_signed_camt053() -> None:
    async with running_bank(_settings(fee_bps=60)) as bank:
        today = _shanghai_today()
        assert (await bank.pay("RSV-1", 10_000)).status == 200
        assert (await bank.pay("RSV-2", 5_000)).status == 200
        refund = await bank.call(
            "POST",
            "/api/quickpay/refund",
            {
                "mch_id": MCH,
                "out_trade_no": "RSV-2",
                "out_refund_no": "RSV-2-R1",
                "amount": 1_000,
                "currency": "CNY",
            },
        )
        assert refund.json()["code"] == "SUCCESS"

        settled = await _settle(bank, business_date=today.isoformat())
        again = await _settle(bank, business_date=today.isoformat())
        reply = await _statement(bank, today)

    assert settled.status == 201
    # 100.00 + 50.00 less fees 0.60 + 0.30, less the 10.00 refunded.
    assert settled.json()["paid"] == 15_000 - 60 - 30 - 1_000
    assert (again.status, again.json()) == (200, settled.json())
    assert reply.status == 200
    reply.assert_signed()
    assert reply.headers["Content-Type"].startswith("application/xml")
    lines, summary = _read(reply.body)
    (line,) = lines
    assert line.direction is Direction.CREDIT
    assert line.amount.minor_units == 13_910
    assert line.order_id == f"STL-banksim-{today.strftime('%Y%m%d')}"
    assert line.channel_transaction_id == settled.json()["bank_ref"]
    assert summary.balances_consistent is True
    assert summary.control_totals_consistent is True
    assert _balances(reply.body) == {"OPBD": "0.00", "CLBD": "139.10"}


async def test_payouts_debit_with_the_banks_fee_and_a_return_credits_the_amount_back() -> None:
    async with running_bank(_settings(payout_fee_fen=100, reserve_opening_fen=1_000_000)) as bank:
        today = _shanghai_today()
        paid = await payout(bank, "PO-RSV-1", 20_000)
        kept = await payout(bank, "PO-RSV-2", 5_000)
        assert paid.json()["code"] == kept.json()["code"] == "SUCCESS"
        returned = await bank.admin("POST", "/_admin/payouts/PO-RSV-1/return", {})
        assert returned.status == 200
        reply = await _statement(bank, today)
        overview = (await bank.admin("GET", "/_admin/reserve")).json()

    lines, summary = _read(reply.body)
    moves = sorted((ln.direction.value, ln.order_id, ln.amount.minor_units) for ln in lines)
    assert moves == [
        ("credit", "PO-RSV-1", 20_000),
        ("debit", "PO-RSV-1", 20_100),
        ("debit", "PO-RSV-2", 5_100),
    ]
    assert summary.balances_consistent is True
    assert _balances(reply.body) == {"OPBD": "10000.00", "CLBD": "9948.00"}
    assert overview["balance"] == 1_000_000 - 20_100 - 5_100 + 20_000
    assert b"<ChrgInclInd>true</ChrgInclInd>" in reply.body


async def test_a_wallets_settlement_arrives_short_paid_or_never_as_dialled() -> None:
    async with running_bank(_settings()) as bank:
        day = _shanghai_today() - timedelta(days=1)
        await bank.set_faults(reserve_short_rate=1.0, reserve_short_fen=250)
        short = await _settle(
            bank, channel="alipaysim", business_date=day.isoformat(), amount=9_000
        )
        await bank.set_faults(reserve_short_rate=0.0, reserve_missing_rate=1.0)
        missing = await _settle(
            bank, channel="wechatsim", business_date=day.isoformat(), amount=4_000
        )
        needs_amount = await _settle(bank, channel="wechatsim", business_date=day.isoformat())
        reply = await _statement(bank, _shanghai_today())

    assert (short.json()["amount"], short.json()["paid"]) == (9_000, 8_750)
    assert missing.json()["missing"] is True
    assert needs_amount.status == 400
    lines, _ = _read(reply.body)
    assert [(ln.order_id, ln.amount.minor_units) for ln in lines] == [
        (f"STL-alipaysim-{day.strftime('%Y%m%d')}", 8_750)
    ]


async def test_the_acquirer_settles_a_past_day_by_itself_once_its_delay_has_passed() -> None:
    async with running_bank(_settings(reserve_settle_delay_ms=0)) as bank:
        yesterday = _shanghai_today() - timedelta(days=1)
        injected = await bank.admin(
            "POST",
            "/_admin/transactions",
            {"out_trade_no": "OLD-1", "amount": 20_000, "trade_time": f"{yesterday} 12:00:00"},
        )
        assert injected.status == 201
        fee = injected.json()["fee"]
        on_the_day = await _statement(bank, yesterday)
        next_day = await _statement(bank, _shanghai_today())
        await bank.set_faults(reserve_settle_delay_ms=7 * 86_400_000)
        overview = (await bank.admin("GET", "/_admin/reserve")).json()

    assert _read(on_the_day.body)[0] == []
    (line,) = _read(next_day.body)[0]
    assert line.amount.minor_units == 20_000 - fee
    assert line.occurred_at is not None
    assert line.occurred_at.isoformat() == f"{_shanghai_today()}T00:00:00+08:00"
    assert [s["business_date"] for s in overview["settlements"]] == [yesterday.isoformat()]


async def test_another_account_unsigned_requests_and_bad_dates_are_refused() -> None:
    async with running_bank(_settings()) as bank:
        other = await _statement(bank, _shanghai_today(), account="6216600000000009999")
        unsigned = await bank.call(
            "GET", f"/api/accounts/{ACCOUNT}/statements/{_shanghai_today()}", header=""
        )
        bad_date = await bank.call("GET", f"/api/accounts/{ACCOUNT}/statements/2026-13-01")
        bad_knob = await bank.admin("POST", "/_admin/faults", {"reserve_short_rate": 2})

    assert (other.status, other.json()["code"]) == (404, "ACCOUNT_NOT_EXIST")
    other.assert_signed()
    assert unsigned.status == 401
    assert bad_date.status == 400
    assert bad_knob.status == 400


async def test_settlements_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "bank.jsonl"
    day = _shanghai_today()
    async with running_bank(_settings(state_file=state_file)) as bank:
        first = await _settle(bank, channel="alipaysim", business_date=str(day), amount=777)
    async with running_bank(_settings(state_file=state_file, seed=99)) as bank:
        again = await _settle(bank, channel="alipaysim", business_date=str(day), amount=777)
        reply = await _statement(bank, day)

    assert (again.status, again.json()) == (200, first.json())
    (line,) = _read(reply.body)[0]
    assert line.channel_transaction_id == first.json()["bank_ref"]


async def test_a_settlement_arrives_when_it_says_and_shows_from_then_on() -> None:
    async with running_bank(_settings()) as bank:
        today = _shanghai_today()
        yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
        await _settle(
            bank,
            channel="wechatsim",
            business_date=str(yesterday - timedelta(days=1)),
            amount=3_000,
            booking_time=f"{yesterday} 10:30:00",
        )
        await _settle(
            bank,
            channel="alipaysim",
            business_date=str(yesterday),
            amount=5_000,
            booking_time=f"{tomorrow} 09:00:00",
        )
        bad = await _settle(
            bank, channel="alipaysim", business_date=str(today), amount=1, booking_time="soon"
        )
        on_yesterday = await _statement(bank, yesterday)
        on_today = await _statement(bank, today)

    assert bad.status == 400
    (line,) = _read(on_yesterday.body)[0]
    assert (line.order_id, line.amount.minor_units) == (
        f"STL-wechatsim-{(yesterday - timedelta(days=1)).strftime('%Y%m%d')}",
        3_000,
    )
    assert _read(on_today.body)[0] == []  # alipaysim's is not there yet
    assert _balances(on_today.body) == {"OPBD": "30.00", "CLBD": "30.00"}


async def test_the_platforms_own_funds_move_in_once_per_reference_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    settings = _settings(state_file=tmp_path / "bank.jsonl")
    async with running_bank(settings) as bank:
        today = _shanghai_today()
        body = {"reference": f"CPN-CNY-{today:%Y%m%d}", "amount": 1_625}
        funded = await bank.admin("POST", "/_admin/reserve/fundings", body)
        again = await bank.admin("POST", "/_admin/reserve/fundings", {**body, "amount": 9})
        refused = await bank.admin("POST", "/_admin/reserve/fundings", {"reference": "x y"})
    async with running_bank(settings) as bank:
        reply = await _statement(bank, today)
        overview = (await bank.admin("GET", "/_admin/reserve")).json()

    assert funded.status == 201
    assert (again.status, again.json()) == (200, funded.json())
    assert refused.status == 400
    (line,), summary = _read(reply.body)
    assert (line.direction, line.amount.minor_units) == (Direction.CREDIT, 1_625)
    assert line.order_id == body["reference"]
    assert line.channel_transaction_id == funded.json()["bank_ref"]
    assert summary.balances_consistent is True
    assert overview["balance"] == 1_625
    assert overview["fundings"] == [funded.json()]
