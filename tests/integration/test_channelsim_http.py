"""The bank channel simulator over real HTTP: signatures, payments, statements, faults, restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from channelsim.app import create_app
from channelsim.settings import ChannelSimSettings
from paysuite.http_signing import SIGNATURE_HEADER, new_nonce, sign
from tests.integration.bank_client import Reply, simulator_settings

SECRET = "integration-test-secret"
MCH = "PAYSUITE01"
AGREEMENT = "AGR7K3M9Q2X5Z8B1"
BROKE_AGREEMENT = "AGR1234560000"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _settings(**overrides: Any) -> ChannelSimSettings:
    return simulator_settings(SECRET, MCH, **{"processing_ms": 2_000, **overrides})


@dataclass
class Bank:
    """A client for a running simulator that signs requests like the gateway will."""

    session: aiohttp.ClientSession
    base_url: str

    async def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        signed_body: bytes | None = None,
        now: int | None = None,
        nonce: str | None = None,
        secret: str = SECRET,
        header: str | None = None,
        timeout: float | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Reply:
        if body is None:
            body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if header is None:
            header = sign(
                secret.encode(),
                body if signed_body is None else signed_body,
                now=int(time.time()) if now is None else now,
                nonce=nonce or new_nonce(),
            )
        if header:
            headers[SIGNATURE_HEADER] = header
        async with self.session.request(
            method,
            self.base_url + path,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return Reply(response.status, await response.read(), dict(response.headers), SECRET)

    async def pay(self, out_trade_no: str, amount: int, **fields: Any) -> Reply:
        payload = {
            "mch_id": MCH,
            "out_trade_no": out_trade_no,
            "agreement_no": AGREEMENT,
            "amount": amount,
            "currency": "CNY",
            "subject": "test order",
            **fields,
        }
        return await self.call("POST", "/api/quickpay/pay", payload)

    async def query(self, out_trade_no: str, mch_id: str = MCH) -> Reply:
        payload = {"mch_id": mch_id, "out_trade_no": out_trade_no}
        return await self.call("POST", "/api/quickpay/query", payload)

    async def statement(self, day: str, mch_id: str = MCH) -> Reply:
        return await self.call("GET", f"/api/statements/{day}?mch_id={mch_id}")

    async def admin(self, method: str, path: str, payload: Any = None) -> Reply:
        return await self.call(method, path, payload, header="")

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        reply = await self.admin("POST", "/_admin/faults", faults)
        assert reply.status == 200, reply.body
        result: dict[str, Any] = reply.json()
        return result

    async def transactions(self) -> list[dict[str, Any]]:
        reply = await self.admin("GET", "/_admin/transactions")
        assert reply.status == 200
        result: list[dict[str, Any]] = reply.json()
        return result

    async def inject(self, **fields: Any) -> Reply:
        return await self.admin("POST", "/_admin/transactions", fields)


@contextlib.asynccontextmanager
async def running_bank(
    settings: ChannelSimSettings, tracer_provider: TracerProvider | None = None
) -> AsyncIterator[Bank]:
    app = create_app(settings, tracer_provider=tracer_provider)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            yield Bank(session, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


@pytest.fixture
async def bank() -> AsyncIterator[Bank]:
    async with running_bank(_settings()) as started:
        yield started


@pytest.fixture
async def csv_bank() -> AsyncIterator[Bank]:
    """A bank sending its bill as the simulator's own CSV (the ZM file: test_channelsim_bills)."""
    async with running_bank(_settings(bill_format="csv")) as started:
        yield started


def _shanghai_today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))


async def test_healthz(bank: Bank) -> None:
    reply = await bank.admin("GET", "/healthz")

    assert (reply.status, reply.body) == (200, b"ok")


async def test_pay_succeeds_with_bank_id_fee_and_signed_answer(bank: Bank) -> None:
    reply = await bank.pay("PAY-0001", 1234)

    assert reply.status == 200
    reply.assert_signed()
    answer = reply.json()
    assert answer["code"] == "SUCCESS"
    assert answer["out_trade_no"] == "PAY-0001"
    assert (answer["amount"], answer["currency"], answer["fee"]) == (1234, "CNY", 7)
    assert (answer["err_code"], answer["err_msg"]) == ("", "")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", answer["trade_time"])
    assert answer["trade_time"][:10] == _shanghai_today()
    assert re.fullmatch(r"B\d{8}\d{12}", answer["trade_no"])
    assert answer["trade_no"][1:9] == answer["trade_time"][:10].replace("-", "")


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(1, 0), (83, 0), (84, 1), (1249, 7), (1250, 8), (2500, 15), (123_456_789, 740_741)],
)
async def test_fee_is_60_bps_rounded_half_up_to_the_fen(bank: Bank, amount: int, fee: int) -> None:
    reply = await bank.pay(f"FEE-{amount}", amount)

    assert reply.json()["fee"] == fee


async def test_trade_numbers_are_unique(bank: Bank) -> None:
    replies = [await bank.pay(f"UNIQ-{i}", 100 + i) for i in range(20)]

    assert len({r.json()["trade_no"] for r in replies}) == 20


async def test_repeated_pay_returns_the_original_answer_and_charges_once(bank: Bank) -> None:
    first = await bank.pay("IDEM-1", 5000)
    second = await bank.pay("IDEM-1", 5000)
    concurrent = await asyncio.gather(*(bank.pay("IDEM-2", 700) for _ in range(5)))

    assert second.status == 200
    assert second.json() == first.json()
    assert len({r.json()["trade_no"] for r in concurrent}) == 1
    listed = [t["out_trade_no"] for t in await bank.transactions()]
    assert listed.count("IDEM-1") == 1
    assert listed.count("IDEM-2") == 1


async def test_same_order_with_another_amount_is_a_conflict(bank: Bank) -> None:
    await bank.pay("CONFLICT-1", 5000)

    reply = await bank.pay("CONFLICT-1", 5001)

    assert reply.status == 409
    reply.assert_signed()
    assert reply.json()["code"] == "ORDER_CONFLICT"
    assert [t["amount"] for t in await bank.transactions()] == [5000]


async def test_agreement_ending_0000_is_declined_for_insufficient_balance(bank: Bank) -> None:
    reply = await bank.pay("BROKE-1", 9900, agreement_no=BROKE_AGREEMENT)

    answer = reply.json()
    assert reply.status == 200
    assert answer["code"] == "FAIL"
    assert (answer["err_code"], answer["fee"]) == ("INSUFFICIENT_BALANCE", 0)
    assert answer["err_msg"]
    assert answer["trade_no"].startswith("B")
    # A declined order stays declined when repeated.
    assert (await bank.pay("BROKE-1", 9900, agreement_no=BROKE_AGREEMENT)).json() == answer


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -1),
        ("amount", "12"),
        ("amount", 12.5),
        ("amount", True),
        ("currency", "USD"),
        ("agreement_no", "AGR123"),
        ("agreement_no", "agr1234567890"),
        ("agreement_no", "6222021234567890123"),
        ("out_trade_no", "X" * 65),
        ("out_trade_no", ""),
        ("out_trade_no", "has,comma"),
        ("mch_id", 42),
    ],
)
async def test_invalid_fields_are_param_errors(bank: Bank, field: str, value: Any) -> None:
    payload = {
        "mch_id": MCH,
        "out_trade_no": "BAD-1",
        "agreement_no": AGREEMENT,
        "amount": 100,
        "currency": "CNY",
        field: value,
    }

    reply = await bank.call("POST", "/api/quickpay/pay", payload)

    assert reply.status == 400
    reply.assert_signed()
    assert reply.json()["code"] == "PARAM_ERROR"
    assert field in reply.json()["message"]
    assert await bank.transactions() == []


async def test_missing_fields_and_broken_json_are_param_errors(bank: Bank) -> None:
    missing = await bank.call("POST", "/api/quickpay/pay", {"mch_id": MCH, "amount": 1})
    broken = await bank.call("POST", "/api/quickpay/pay", body=b"{not json")
    not_object = await bank.call("POST", "/api/quickpay/pay", [1, 2])

    for reply in (missing, broken, not_object):
        assert reply.status == 400
        assert reply.json()["code"] == "PARAM_ERROR"
    assert "agreement_no" in missing.json()["message"]


async def test_error_messages_never_echo_the_agreement_number(bank: Bank) -> None:
    card_like = "AGR-6222021234567890"

    reply = await bank.pay("BAD-2", 100, agreement_no=card_like)

    assert reply.status == 400
    assert card_like.encode() not in reply.body


async def test_unknown_merchant_is_mch_not_exist(bank: Bank) -> None:
    pay = await bank.pay("MCH-1", 100, mch_id="SOMEONEELSE")
    query = await bank.query("MCH-1", mch_id="SOMEONEELSE")
    statement = await bank.statement("2024-03-01", mch_id="SOMEONEELSE")

    for reply in (pay, query, statement):
        assert reply.status == 400
        reply.assert_signed()
        assert reply.json()["code"] == "MCH_NOT_EXIST"
    assert await bank.transactions() == []


async def test_query_returns_the_pay_answer_or_order_not_exist(bank: Bank) -> None:
    paid = await bank.pay("QUERY-1", 2500)

    known = await bank.query("QUERY-1")
    unknown = await bank.query("QUERY-404")

    assert known.status == 200
    known.assert_signed()
    assert known.json() == paid.json()
    assert unknown.status == 200
    unknown.assert_signed()
    assert unknown.json() == {"code": "ORDER_NOT_EXIST", "out_trade_no": "QUERY-404"}


async def test_unsigned_request_is_rejected_without_processing(bank: Bank) -> None:
    reply = await bank.call("POST", "/api/quickpay/pay", {"mch_id": MCH}, header="")

    assert reply.status == 401
    reply.assert_signed()
    assert reply.json() == {"code": "SIGN_ERROR", "message": "signature verification failed"}


async def test_tampered_body_is_rejected_and_nothing_is_charged(bank: Bank) -> None:
    honest = {
        "mch_id": MCH,
        "out_trade_no": "TAMPER-1",
        "agreement_no": AGREEMENT,
        "amount": 100,
        "currency": "CNY",
    }
    tampered = {**honest, "amount": 100_000}

    reply = await bank.call(
        "POST",
        "/api/quickpay/pay",
        body=json.dumps(tampered).encode(),
        signed_body=json.dumps(honest).encode(),
    )

    assert reply.status == 401
    assert reply.json()["code"] == "SIGN_ERROR"
    assert await bank.transactions() == []


async def test_wrong_secret_and_garbage_headers_are_sign_errors(bank: Bank) -> None:
    wrong_key = await bank.call("POST", "/api/quickpay/query", {}, secret="not-the-secret")
    garbage = await bank.call("POST", "/api/quickpay/query", {}, header="t=1,n=x,s=y")

    for reply in (wrong_key, garbage):
        assert reply.status == 401
        assert reply.json()["code"] == "SIGN_ERROR"


async def test_stale_timestamp_is_sign_expired(bank: Bank) -> None:
    payload = {"mch_id": MCH, "out_trade_no": "OLD-1"}

    stale = await bank.call("POST", "/api/quickpay/query", payload, now=int(time.time()) - 400)
    future = await bank.call("POST", "/api/quickpay/query", payload, now=int(time.time()) + 400)
    recent = await bank.call("POST", "/api/quickpay/query", payload, now=int(time.time()) - 250)

    for reply in (stale, future):
        assert reply.status == 401
        reply.assert_signed()
        assert reply.json()["code"] == "SIGN_EXPIRED"
    assert recent.status == 200


async def test_replayed_request_is_rejected(bank: Bank) -> None:
    body = json.dumps(
        {
            "mch_id": MCH,
            "out_trade_no": "REPLAY-1",
            "agreement_no": AGREEMENT,
            "amount": 300,
            "currency": "CNY",
        }
    ).encode()
    header = sign(SECRET.encode(), body, now=int(time.time()), nonce=new_nonce())

    first = await bank.call("POST", "/api/quickpay/pay", body=body, header=header)
    replay = await bank.call("POST", "/api/quickpay/pay", body=body, header=header)

    assert first.status == 200
    assert replay.status == 401
    replay.assert_signed()
    assert replay.json()["code"] == "REPLAYED"


async def test_nonce_cannot_be_reused_for_another_body(bank: Bank) -> None:
    nonce = new_nonce()

    first = await bank.call(
        "POST", "/api/quickpay/query", {"mch_id": MCH, "out_trade_no": "A"}, nonce=nonce
    )
    second = await bank.call(
        "POST", "/api/quickpay/query", {"mch_id": MCH, "out_trade_no": "B"}, nonce=nonce
    )

    assert first.status == 200
    assert second.json()["code"] == "REPLAYED"


async def test_admin_endpoints_need_no_signature_and_are_unsigned(bank: Bank) -> None:
    reply = await bank.admin("GET", "/_admin/faults")

    assert reply.status == 200
    assert SIGNATURE_HEADER not in reply.headers
    assert reply.json()["error_rate"] == 0


STATEMENT_COLUMNS = (
    "trade_type,trade_no,out_trade_no,refund_no,out_refund_no,trade_time,amount,currency,fee,status"
)


async def test_statement_lists_the_days_successful_transactions_in_yuan(csv_bank: Bank) -> None:
    bank = csv_bank
    day = "2024-03-01"
    injected = [
        ("ST-LATE", 123_456_789, "SUCCESS", "2024-03-01 23:59:59"),
        ("ST-EARLY", 5, "SUCCESS", "2024-03-01 00:00:00"),
        ("ST-MID", 1250, "SUCCESS", "2024-03-01 12:30:00"),
        ("ST-FAILED", 9999, "FAIL", "2024-03-01 13:00:00"),
        ("ST-DAY-BEFORE", 100, "SUCCESS", "2024-02-29 23:59:59"),
        ("ST-DAY-AFTER", 100, "SUCCESS", "2024-03-02 00:00:00"),
    ]
    trade_nos = {}
    for out_trade_no, amount, status, trade_time in injected:
        reply = await bank.inject(
            out_trade_no=out_trade_no, amount=amount, status=status, trade_time=trade_time
        )
        assert reply.status == 201, reply.body
        trade_nos[out_trade_no] = reply.json()["trade_no"]
    await bank.pay("ST-TODAY", 1000)  # today, not on the statement day

    reply = await bank.statement(day)

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    reply.assert_signed()
    assert reply.body.decode("utf-8").splitlines() == [
        "# banksim statement,mch_id=PAYSUITE01,date=2024-03-01,format=2,version=1",
        STATEMENT_COLUMNS,
        f"PAYMENT,{trade_nos['ST-EARLY']},ST-EARLY,,,2024-03-01 00:00:00,0.05,CNY,0.00,SUCCESS",
        f"PAYMENT,{trade_nos['ST-MID']},ST-MID,,,2024-03-01 12:30:00,12.50,CNY,0.08,SUCCESS",
        f"PAYMENT,{trade_nos['ST-LATE']},ST-LATE,,,2024-03-01 23:59:59,1234567.89,CNY,7407.41,"
        "SUCCESS",
        "# total_count=3,total_amount=1234580.44,refund_count=0,refund_amount=0.00",
    ]


async def test_statement_includes_paid_orders_but_not_declined_ones(csv_bank: Bank) -> None:
    bank = csv_bank
    paid = (await bank.pay("ST-PAID", 1999)).json()
    await bank.pay("ST-DECLINED", 500, agreement_no=BROKE_AGREEMENT)

    lines = (await bank.statement(_shanghai_today())).body.decode().splitlines()

    assert lines[2:] == [
        f"PAYMENT,{paid['trade_no']},ST-PAID,,,{paid['trade_time']},19.99,CNY,0.12,SUCCESS",
        "# total_count=1,total_amount=19.99,refund_count=0,refund_amount=0.00",
    ]


async def test_statement_for_a_quiet_day_has_only_header_and_zero_trailer(csv_bank: Bank) -> None:
    bank = csv_bank
    reply = await bank.statement("2023-01-01")

    assert reply.status == 200
    assert reply.body.decode() == (
        "# banksim statement,mch_id=PAYSUITE01,date=2023-01-01,format=2,version=1\n"
        f"{STATEMENT_COLUMNS}\n"
        "# total_count=0,total_amount=0.00,refund_count=0,refund_amount=0.00\n"
    )


@pytest.mark.parametrize("day", ["2024-13-01", "2024-3-1", "20240301", "2024-W01-1"])
async def test_statement_rejects_bad_dates(bank: Bank, day: str) -> None:
    reply = await bank.statement(day)

    assert reply.status == 400
    assert reply.json()["code"] == "PARAM_ERROR"


async def test_statement_requires_mch_id_and_a_signature(bank: Bank) -> None:
    no_mch = await bank.call("GET", "/api/statements/2024-03-01")
    unsigned = await bank.call("GET", "/api/statements/2024-03-01?mch_id=PAYSUITE01", header="")

    assert (no_mch.status, no_mch.json()["code"]) == (400, "PARAM_ERROR")
    assert (unsigned.status, unsigned.json()["code"]) == (401, "SIGN_ERROR")


async def test_injected_transaction_conflicts_and_validation(bank: Bank) -> None:
    first = await bank.inject(out_trade_no="LONG-1", amount=100)
    again = await bank.inject(out_trade_no="LONG-1", amount=100)
    bad_time = await bank.inject(out_trade_no="LONG-2", amount=100, trade_time="yesterday")
    bad_status = await bank.inject(out_trade_no="LONG-3", amount=100, status="PROCESSING")

    assert first.status == 201
    assert first.json()["code"] == "SUCCESS"
    assert first.json()["fee"] == 1
    assert (await bank.query("LONG-1")).json()["trade_no"] == first.json()["trade_no"]
    assert (again.status, again.json()["code"]) == (409, "ORDER_CONFLICT")
    assert (bad_time.status, bad_time.json()["code"]) == (400, "PARAM_ERROR")
    assert (bad_status.status, bad_status.json()["code"]) == (400, "PARAM_ERROR")


async def test_faults_are_reported_and_validated(bank: Bank) -> None:
    current = await bank.set_faults(latency_ms=5, decline_rate=0.25)
    unknown = await bank.admin("POST", "/_admin/faults", {"explode_rate": 1})
    out_of_range = await bank.admin("POST", "/_admin/faults", {"error_rate": 1.5})

    assert current == {
        "latency_ms": 5,
        "decline_rate": 0.25,
        "timeout_rate": 0.0,
        "timeout_sleep_ms": 30_000,
        "error_rate": 0.0,
        "processing_rate": 0.0,
        "processing_ms": 2_000,
        "verify_error_rate": 0.0,
        "false_success_rate": 0.0,
        "payout_decline_rate": 0.0,
        "payout_timeout_rate": 0.0,
        "payout_processing_rate": 0.0,
        "payout_processing_ms": 2_000,
        "payout_return_rate": 0.0,
        "payout_return_after_ms": 5_000,
        "reserve_settle_delay_ms": 9 * 3_600_000,
        "reserve_short_rate": 0.0,
        "reserve_short_fen": 100,
        "reserve_missing_rate": 0.0,
    }
    assert unknown.status == 400
    assert out_of_range.status == 400
    assert (await bank.admin("GET", "/_admin/faults")).json() == current


async def test_error_rate_one_gives_503_without_processing(bank: Bank) -> None:
    await bank.set_faults(error_rate=1)

    reply = await bank.pay("ERR-1", 100)

    assert reply.status == 503
    reply.assert_signed()
    assert reply.json()["code"] == "SYSTEM_ERROR"
    assert await bank.transactions() == []
    await bank.set_faults(error_rate=0)
    assert (await bank.pay("ERR-1", 100)).json()["code"] == "SUCCESS"


async def test_decline_rate_one_declines_every_new_order(bank: Bank) -> None:
    await bank.set_faults(decline_rate=1)

    answers = [(await bank.pay(f"DECL-{i}", 100)).json() for i in range(3)]

    assert {(a["code"], a["err_code"], a["fee"]) for a in answers} == {("FAIL", "CARD_DECLINED", 0)}


async def test_timeout_fault_charges_but_answers_too_late(bank: Bank) -> None:
    await bank.set_faults(timeout_rate=1, timeout_sleep_ms=1000)

    with pytest.raises(asyncio.TimeoutError):
        await bank.call(
            "POST",
            "/api/quickpay/pay",
            {
                "mch_id": MCH,
                "out_trade_no": "SLOW-1",
                "agreement_no": AGREEMENT,
                "amount": 4200,
                "currency": "CNY",
            },
            timeout=0.2,
        )

    await bank.set_faults(timeout_rate=0)
    status = await bank.query("SLOW-1")
    assert status.json()["code"] == "SUCCESS"
    assert status.json()["amount"] == 4200
    # The gateway's retry with the same out_trade_no gets the same charge back.
    assert (await bank.pay("SLOW-1", 4200)).json()["trade_no"] == status.json()["trade_no"]


async def test_latency_delays_bank_answers(bank: Bank) -> None:
    await bank.set_faults(latency_ms=250)

    started = time.monotonic()
    reply = await bank.query("LAT-1")

    assert reply.status == 200
    assert time.monotonic() - started >= 0.25


async def test_processing_orders_settle_later(bank: Bank) -> None:
    await bank.set_faults(processing_rate=1, processing_ms=300)

    pending = (await bank.pay("PROC-1", 1000)).json()
    still_pending = (await bank.query("PROC-1")).json()
    await asyncio.sleep(0.4)
    settled = (await bank.query("PROC-1")).json()

    assert (pending["code"], pending["fee"]) == ("PROCESSING", 0)
    assert still_pending["code"] == "PROCESSING"
    assert (settled["code"], settled["fee"], settled["trade_no"]) == (
        "SUCCESS",
        6,
        pending["trade_no"],
    )


async def test_seeded_banks_make_the_same_decisions() -> None:
    async def run() -> list[tuple[str, str]]:
        async with running_bank(_settings(seed=42, decline_rate=0.5)) as bank:
            answers = [(await bank.pay(f"SEED-{i}", 100)).json() for i in range(12)]
        return [(a["code"], a["trade_no"][-12:]) for a in answers]

    first, second = await run(), await run()

    assert first == second
    assert {code for code, _ in first} == {"SUCCESS", "FAIL"}


async def test_state_file_keeps_transactions_across_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "bank" / "state.jsonl"
    async with running_bank(_settings(state_file=state_file)) as bank:
        paid = (await bank.pay("KEEP-1", 1234)).json()
        injected = (
            await bank.inject(out_trade_no="KEEP-2", amount=500, trade_time="2024-03-01 10:00:00")
        ).json()
    with state_file.open("a") as torn:
        torn.write('{"out_trade_no": "TORN-1", "amou')  # a crash mid-write

    async with running_bank(_settings(state_file=state_file)) as bank:
        assert (await bank.query("KEEP-1")).json() == paid
        assert (await bank.pay("KEEP-1", 1234)).json() == paid
        assert (await bank.pay("KEEP-1", 999)).status == 409
        assert (await bank.query("KEEP-2")).json()["trade_no"] == injected["trade_no"]
        assert (await bank.query("TORN-1")).json()["code"] == "ORDER_NOT_EXIST"
        after = (await bank.pay("KEEP-3", 10)).json()

    async with running_bank(_settings(state_file=state_file)) as bank:
        listed = {t["out_trade_no"]: t for t in await bank.transactions()}
        assert set(listed) == {"KEEP-1", "KEEP-2", "KEEP-3"}
        assert listed["KEEP-3"]["trade_no"] == after["trade_no"]
    assert AGREEMENT not in state_file.read_text()


async def test_server_span_continues_the_callers_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    async with running_bank(_settings(), tracer_provider=provider) as bank:
        reply = await bank.call(
            "POST",
            "/api/quickpay/query",
            {"mch_id": MCH, "out_trade_no": "TRACE-1"},
            extra_headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
        )
    assert reply.status == 200

    spans = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert len(spans) == 1
    span = spans[0]
    assert format_trace_id(span.context.trace_id) == trace_id
    assert span.parent is not None
    assert format_span_id(span.parent.span_id) == parent_id
    assert span.name == "POST /api/quickpay/query"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, "simulator exited during startup"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(base_url + "/healthz") as response:
                    if response.status == 200 and await response.text() == "ok":
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("simulator did not become healthy")


async def test_runs_as_a_process_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    traces = tmp_path / "traces.jsonl"
    source_dirs = [PROJECT_ROOT / "lib", PROJECT_ROOT / "simulators"]
    python_path = os.pathsep.join([*map(str, source_dirs), os.environ.get("PYTHONPATH", "")])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CHANNELSIM_", "OTEL_"))},
        "PYTHONPATH": python_path,
        "CHANNELSIM_SECRET": SECRET,
        "CHANNELSIM_PORT": str(port),
        "CHANNELSIM_STATE_FILE": str(tmp_path / "state.jsonl"),
        "PAYSUITE_TRACES_FILE": str(traces),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "channelsim"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    try:
        base_url = f"http://127.0.0.1:{port}"
        await _wait_healthy(base_url, process)
        async with aiohttp.ClientSession() as session:
            bank = Bank(session, base_url)
            reply = await bank.call(
                "POST",
                "/api/quickpay/pay",
                {
                    "mch_id": MCH,
                    "out_trade_no": "PROC-OS-1",
                    "agreement_no": AGREEMENT,
                    "amount": 888,
                    "currency": "CNY",
                },
                extra_headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"},
            )
        assert reply.status == 200
        reply.assert_signed()
        assert reply.json()["code"] == "SUCCESS"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = await asyncio.to_thread(process.communicate, timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output.decode()

    logs = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    paid = [entry for entry in logs if entry.get("msg") == "pay processed"]
    assert paid
    assert paid[0]["out_trade_no"] == "PROC-OS-1"
    assert paid[0]["amount"] == 888
    assert paid[0]["trace_id"] == trace_id
    assert AGREEMENT not in output.decode()
    assert trace_id in traces.read_text()
    assert "PROC-OS-1" in (tmp_path / "state.jsonl").read_text()
