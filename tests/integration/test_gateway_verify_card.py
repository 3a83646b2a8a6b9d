"""GatewayService.VerifyCard in process against the bank simulator and Postgres."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.adapters.channels.banksim import BankQuickPayChannel
from gateway.domain.ports import CardCheck, VerifyOutcome
from paysuite.dev_secrets import DEV_BANK_SECRET
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from tests.helpers import connect

# Clearly fake values: the GB 11643 sample ID, test phones, made-up names.
NAME = "测试丙"
ID_NUMBER = "11010519491231002X"
OTHER_ID_NUMBER = "110101199003070019"
PHONE = "13800138000"
OTHER_PHONE = "13900139000"
RESERVED_SUFFIXES = ("0000", "0001", "0002", "0003", "0004")

Register = Callable[..., Awaitable[str]]


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def card_number(ending: str = "", prefix: str = "621700", length: int = 19) -> str:
    """A random Luhn-valid card number; without an ending, none of the reserved ones."""
    while True:
        middle = "".join(secrets.choice("0123456789") for _ in range(length - len(prefix)))
        number = (prefix + middle)[: length - len(ending)] + ending
        if luhn_valid(number) and (ending or not number.endswith(RESERVED_SUFFIXES)):
            return number


def verify_request(card: str, request_id: str | None = None, **fields: Any) -> pb.VerifyCardRequest:
    values: dict[str, Any] = {
        "request_id": f"vq-{secrets.token_hex(8)}" if request_id is None else request_id,
        "name": NAME,
        "id_number": ID_NUMBER,
        "card_number": card,
        "phone": PHONE,
        "sign_agreement": False,
        **fields,
    }
    return pb.VerifyCardRequest(**values)


def pii_of(request: pb.VerifyCardRequest) -> dict[str, str]:
    return {
        "name": request.name,
        "ID number": request.id_number,
        "card number": request.card_number,
        "phone": request.phone,
    }


def leaked(text: str, pii: dict[str, str]) -> list[str]:
    """Which elements appear in text, by label only: assertion messages never show PII."""
    return [label for label, value in pii.items() if value and value in text]


@pytest.fixture
async def gateway(gateway_addr: str) -> pb_grpc.GatewayServiceAsyncStub:
    return pb_grpc.GatewayServiceStub(connect(gateway_addr))


@pytest.fixture
async def bank_admin(bank_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=bank_url) as session:
        yield session
        async with session.post("/_admin/faults", json={"verify_error_rate": 0, "latency_ms": 0}):
            pass


@pytest.fixture
def register(bank_admin: aiohttp.ClientSession) -> Register:
    """Registers a cardholder at the bank; returns the card number."""

    async def register_card(card: str | None = None, bank_code: str = "CCB") -> str:
        card = card or card_number()
        payload = {
            "card_no": card,
            "name": NAME,
            "id_no": ID_NUMBER,
            "mobile": PHONE,
            "bank_code": bank_code,
        }
        async with bank_admin.post("/_admin/cards", json=payload) as response:
            assert response.status == 201
        return card

    return register_card


async def bank_saw(bank_admin: aiohttp.ClientSession, request_id: str) -> list[str]:
    async with bank_admin.get("/_admin/verifications") as response:
        seen: list[dict[str, str]] = await response.json()
    return [v["result"] for v in seen if v["req_no"] == request_id]


async def row(db: asyncpg.Connection, request_id: str) -> Any:
    return await db.fetchrow(
        "SELECT * FROM gateway.card_verifications WHERE request_id = $1", request_id
    )


async def test_match_with_agreement_is_stored(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register, db: asyncpg.Connection
) -> None:
    card = await register(bank_code="CMB")
    request = verify_request(card, sign_agreement=True)

    answer = await gateway.VerifyCard(request)

    assert answer.outcome == pb.VERIFY_OUTCOME_MATCH
    assert list(answer.mismatched_elements) == []
    assert (answer.channel, answer.bank_code, answer.card_state) == ("banksim", "CMB", "")
    assert answer.channel_reference.startswith("V")
    assert answer.agreement_no.startswith("AGR") and len(answer.agreement_no) == 23
    stored = await row(db, request.request_id)
    assert stored is not None
    assert (stored["outcome"], stored["mismatched"], stored["agreement_no"]) == (
        "match",
        [],
        answer.agreement_no,
    )
    assert (stored["channel"], stored["channel_reference"], stored["bank_code"]) == (
        "banksim",
        answer.channel_reference,
        "CMB",
    )
    assert stored["created_at"] is not None


async def test_match_without_signing_has_no_agreement(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register
) -> None:
    answer = await gateway.VerifyCard(verify_request(await register()))

    assert (answer.outcome, answer.agreement_no) == (pb.VERIFY_OUTCOME_MATCH, "")


@pytest.mark.parametrize(
    ("fields", "elements"),
    [
        ({"phone": OTHER_PHONE}, [pb.VERIFY_ELEMENT_PHONE]),
        ({"name": "测试丁"}, [pb.VERIFY_ELEMENT_NAME]),
        ({"id_number": OTHER_ID_NUMBER}, [pb.VERIFY_ELEMENT_ID_NUMBER]),
        (
            {"name": "测试丁", "id_number": OTHER_ID_NUMBER, "phone": OTHER_PHONE},
            [pb.VERIFY_ELEMENT_NAME, pb.VERIFY_ELEMENT_ID_NUMBER, pb.VERIFY_ELEMENT_PHONE],
        ),
    ],
)
async def test_mismatch_names_the_elements(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    register: Register,
    db: asyncpg.Connection,
    fields: dict[str, str],
    elements: list[int],
) -> None:
    request = verify_request(await register(), sign_agreement=True, **fields)

    answer = await gateway.VerifyCard(request)

    assert answer.outcome == pb.VERIFY_OUTCOME_MISMATCH
    assert list(answer.mismatched_elements) == elements
    assert answer.agreement_no == ""
    stored = await row(db, request.request_id)
    assert stored["outcome"] == "mismatch"
    assert len(stored["mismatched"]) == len(elements)


async def test_unknown_cards_have_no_record(gateway: pb_grpc.GatewayServiceAsyncStub) -> None:
    unregistered = await gateway.VerifyCard(verify_request(card_number()))
    unknown_range = await gateway.VerifyCard(verify_request(card_number(prefix="99", length=16)))

    for answer in (unregistered, unknown_range):
        assert answer.outcome == pb.VERIFY_OUTCOME_NO_RECORD
        assert (answer.agreement_no, answer.card_state) == ("", "")


@pytest.mark.parametrize(("ending", "state"), [("0001", "LOST"), ("0002", "FROZEN")])
async def test_card_state_reports_the_state(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    register: Register,
    db: asyncpg.Connection,
    ending: str,
    state: str,
) -> None:
    request = verify_request(await register(card_number(ending=ending)), sign_agreement=True)

    answer = await gateway.VerifyCard(request)

    assert (answer.outcome, answer.card_state, answer.agreement_no) == (
        pb.VERIFY_OUTCOME_CARD_STATE,
        state,
        "",
    )
    assert answer.bank_code == "CCB"
    assert (await row(db, request.request_id))["card_state"] == state


async def test_bank_that_cannot_verify_says_so(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register
) -> None:
    answer = await gateway.VerifyCard(verify_request(await register(card_number(ending="0003"))))

    assert answer.outcome == pb.VERIFY_OUTCOME_CANNOT_VERIFY


async def test_bank_failure_is_cannot_verify_and_a_new_request_id_asks_again(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    register: Register,
    bank_admin: aiohttp.ClientSession,
    db: asyncpg.Connection,
) -> None:
    card = await register()
    failed = verify_request(card)
    async with bank_admin.post("/_admin/faults", json={"verify_error_rate": 1}) as response:
        assert response.status == 200

    answer = await gateway.VerifyCard(failed)
    async with bank_admin.post("/_admin/faults", json={"verify_error_rate": 0}) as response:
        assert response.status == 200
    repeated = await gateway.VerifyCard(failed)
    fresh = await gateway.VerifyCard(verify_request(card))

    assert answer.outcome == pb.VERIFY_OUTCOME_CANNOT_VERIFY
    assert answer.channel == "banksim"
    assert (await row(db, failed.request_id))["outcome"] == "cannot_verify"
    assert repeated == answer  # stored: the same request id does not ask the bank again
    assert await bank_saw(bank_admin, failed.request_id) == ["SYSTEM_ERROR"]
    assert fresh.outcome == pb.VERIFY_OUTCOME_MATCH


async def test_too_many_verifications_of_a_card_are_rate_limited(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register, db: asyncpg.Connection
) -> None:
    card = await register()
    requests = [verify_request(card) for _ in range(6)]

    answers = [await gateway.VerifyCard(r) for r in requests]

    assert [a.outcome for a in answers] == [pb.VERIFY_OUTCOME_MATCH] * 5 + [
        pb.VERIFY_OUTCOME_RATE_LIMITED
    ]
    assert (await row(db, requests[5].request_id))["outcome"] == "rate_limited"


async def test_replay_returns_the_stored_answer_without_asking_the_bank(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    register: Register,
    bank_admin: aiohttp.ClientSession,
    db: asyncpg.Connection,
) -> None:
    request = verify_request(await register(), sign_agreement=True)

    first = await gateway.VerifyCard(request)
    again = await gateway.VerifyCard(request)
    concurrent = await asyncio.gather(*(gateway.VerifyCard(request) for _ in range(4)))

    assert again == first
    assert all(answer == first for answer in concurrent)
    assert await bank_saw(bank_admin, request.request_id) == ["MATCH"]
    count = await db.fetchval(
        "SELECT count(*) FROM gateway.card_verifications WHERE request_id = $1",
        request.request_id,
    )
    assert count == 1


async def test_concurrent_first_requests_store_one_answer(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register
) -> None:
    request = verify_request(await register())

    answers = await asyncio.gather(*(gateway.VerifyCard(request) for _ in range(4)))

    assert len({a.channel_reference for a in answers}) == 1
    assert {a.outcome for a in answers} == {pb.VERIFY_OUTCOME_MATCH}


@pytest.mark.parametrize(
    "change",
    [{"phone": OTHER_PHONE}, {"sign_agreement": True}, {"id_number": OTHER_ID_NUMBER}],
)
async def test_request_id_reused_for_other_elements_is_rejected(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    register: Register,
    bank_admin: aiohttp.ClientSession,
    change: dict[str, Any],
) -> None:
    card = await register()
    request = verify_request(card)
    await gateway.VerifyCard(request)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.VerifyCard(verify_request(card, request.request_id, **change))

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED
    found = leaked(str(caught.value.details()), {**pii_of(request), "changed": OTHER_PHONE})
    assert not found, f"PII in the error: {found}"
    assert await bank_saw(bank_admin, request.request_id) == ["MATCH"]


BAD_INPUT = [
    ({"request_id": ""}, {"request_id"}),
    ({"request_id": "has space"}, {"request_id"}),
    ({"name": ""}, {"name"}),
    ({"name": "   "}, {"name"}),
    ({"name": "名" * 65}, {"name"}),
    ({"id_number": "11010519491231002x"}, {"id_number"}),
    ({"id_number": "1101051949123100"}, {"id_number"}),
    ({"id_number": "X1010519491231002"}, {"id_number"}),
    ({"card_number": "622202123456"}, {"card_number"}),
    ({"card_number": "62220212345678901234"}, {"card_number"}),
    ({"card_number": "6222 0212 3456 7890"}, {"card_number"}),
    ({"phone": "23800138000"}, {"phone"}),
    ({"phone": "1380013800"}, {"phone"}),
    ({"phone": "+8613800138000"}, {"phone"}),
    (
        {"request_id": "", "name": "", "id_number": "", "card_number": "", "phone": ""},
        {"request_id", "name", "id_number", "card_number", "phone"},
    ),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_INPUT)
async def test_bad_input_names_the_fields_and_writes_nothing(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    bank_admin: aiohttp.ClientSession,
    db: asyncpg.Connection,
    fields: dict[str, str],
    expected: set[str],
) -> None:
    request = verify_request(card_number(), **{"request_id": "vq-bad-input", **fields})
    before = await db.fetchval("SELECT count(*) FROM gateway.card_verifications")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.VerifyCard(request)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(caught.value)
    assert {field for field, _ in violations} == expected
    shown = " ".join([str(caught.value.details()), *(d for _, d in violations)])
    found = leaked(shown, pii_of(request))
    assert not found, f"PII in the error: {found}"
    assert await db.fetchval("SELECT count(*) FROM gateway.card_verifications") == before
    assert await bank_saw(bank_admin, request.request_id) == []


async def test_stored_rows_hold_no_pii(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register, db: asyncpg.Connection
) -> None:
    card = await register()
    requests = [
        verify_request(card, sign_agreement=True),
        verify_request(card, phone=OTHER_PHONE),
        verify_request(card_number()),
    ]
    for request in requests:
        await gateway.VerifyCard(request)

    for request in requests:
        text = await db.fetchval(
            "SELECT t::text FROM gateway.card_verifications t WHERE request_id = $1",
            request.request_id,
        )
        assert text is not None
        found = leaked(text, {**pii_of(request), "registered phone": PHONE})
        assert not found, f"PII in gateway.card_verifications: {found}"


def _flushed(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    provider = trace.get_tracer_provider()
    if isinstance(provider, SdkTracerProvider):
        provider.force_flush()
    return exporter.get_finished_spans()


async def test_spans_carry_channel_and_outcome_only(
    gateway: pb_grpc.GatewayServiceAsyncStub, register: Register, spans: InMemorySpanExporter
) -> None:
    request = verify_request(await register(), sign_agreement=True)
    await gateway.VerifyCard(request)

    verified: list[ReadableSpan] = []
    for _ in range(50):
        finished = _flushed(spans)
        verified = [s for s in finished if "paysuite.verification.outcome" in (s.attributes or {})]
        if verified:
            break
        await asyncio.sleep(0.05)

    assert verified
    ours = {k for s in verified for k in (s.attributes or {}) if k.startswith("paysuite.")}
    assert ours == {"paysuite.channel", "paysuite.verification.outcome"}
    assert {(s.attributes or {})["paysuite.verification.outcome"] for s in verified} >= {"match"}
    everything = " ".join(
        f"{s.name} {dict(s.attributes or {})} {[(e.name, e.attributes) for e in s.events]}"
        for s in _flushed(spans)
    )
    assert "/api/auth/verify4" in everything  # the client span to the bank is there
    found = leaked(everything, pii_of(request))
    assert not found, f"PII on spans: {found}"


async def test_logs_carry_no_pii(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    register: Register,
    bank_admin: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    card = await register()
    caplog.set_level(logging.DEBUG)
    request = verify_request(card, sign_agreement=True)
    await gateway.VerifyCard(request)
    await gateway.VerifyCard(verify_request(card, phone=OTHER_PHONE))
    async with bank_admin.post("/_admin/faults", json={"verify_error_rate": 1}):
        pass
    await gateway.VerifyCard(verify_request(card))
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.VerifyCard(verify_request(card, request.request_id, phone=OTHER_PHONE))

    logged = "\n".join(repr(record.__dict__) for record in caplog.records)
    assert request.request_id in logged
    found = leaked(logged, {**pii_of(request), "other phone": OTHER_PHONE})
    assert not found, f"PII in logs: {found}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_adapter_without_a_usable_answer_cannot_verify(
    bank_url: str, register: Register, bank_admin: aiohttp.ClientSession
) -> None:
    card = await register()
    check = CardCheck(
        request_id=f"vq-{secrets.token_hex(8)}",
        name=NAME,
        id_number=ID_NUMBER,
        card_number=card,
        phone=PHONE,
        sign_agreement=True,
    )
    async with aiohttp.ClientSession() as session:
        unreachable = BankQuickPayChannel(
            "banksim",
            f"http://127.0.0.1:{_free_port()}",
            DEV_BANK_SECRET.encode(),
            "PAYSUITE01",
            session,
            timeout_seconds=2,
        )
        wrong_secret = BankQuickPayChannel(
            "banksim", bank_url, b"not-the-bank-secret", "PAYSUITE01", session, timeout_seconds=2
        )
        slow = BankQuickPayChannel(
            "banksim",
            bank_url,
            DEV_BANK_SECRET.encode(),
            "PAYSUITE01",
            session,
            timeout_seconds=0.2,
        )
        refused = await unreachable.verify_card(check)
        forged = await wrong_secret.verify_card(check)
        async with bank_admin.post("/_admin/faults", json={"latency_ms": 1000}):
            pass
        late = await slow.verify_card(check)

    assert [r.outcome for r in (refused, forged, late)] == [VerifyOutcome.CANNOT_VERIFY] * 3
    found = leaked(
        repr(check), {"name": NAME, "ID number": ID_NUMBER, "card number": card, "phone": PHONE}
    )
    assert not found, f"PII in repr: {found}"
