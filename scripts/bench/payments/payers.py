"""Real-named payers for the benchmark: a cardholder at the bank, then registration and
four-element verification with the card bound, through identity as a person would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import aiohttp

from channelsim.payments import BROKE_AGREEMENT_SUFFIX
from devstack.pki import dev_channel
from identity.domain.pii import id_number_valid, luhn_valid
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc

BIN = "622202"  # ICBC debit, in the suite's BIN table
BANK = "ICBC"
NAME = "测试"
CONCURRENCY = 16


@dataclass(frozen=True)
class Payer:
    """A synthetic person, unique by index; never printed (PII-shaped values)."""

    user_id: str
    id_number: str
    card_number: str
    phone: str

    def __repr__(self) -> str:
        return f"Payer({self.user_id})"


def _check_digit(body: str, valid: Callable[[str], bool]) -> str:
    for digit in "0123456789X":
        if valid(body + digit):
            return body + digit
    raise ValueError("no check digit fits")


def _card(index: int) -> str:
    """A valid card number unique to the index, not one the bank always declines."""
    for spare in range(100):
        card = _check_digit(f"{BIN}{spare:02d}{index:010d}", luhn_valid)
        if not card.endswith(BROKE_AGREEMENT_SUFFIX):
            return card
    raise ValueError("no card fits")


def payer(run: str, index: int) -> Payer:
    born = date(1960, 1, 1) + timedelta(days=index % 15000)
    sequence = f"{index // 15000 % 1000:03d}"
    id_number = _check_digit(f"110105{born:%Y%m%d}{sequence}", id_number_valid)
    return Payer(f"{run}{index:06d}", id_number, _card(index), f"139{index:08d}")


async def _real_name(
    identity: pb_grpc.IdentityServiceAsyncStub,
    http: aiohttp.ClientSession,
    bank_url: str,
    who: Payer,
) -> None:
    holder = {
        "card_no": who.card_number,
        "name": NAME,
        "id_no": who.id_number,
        "mobile": who.phone,
        "bank_code": BANK,
    }
    async with http.post(f"{bank_url}/_admin/cards", json=holder) as response:
        response.raise_for_status()
    await identity.RegisterUser(
        pb.RegisterUserRequest(
            request_id=f"reg-{who.user_id}", user_id=who.user_id, phone=who.phone
        ),
        timeout=30,
    )
    answer = await identity.VerifyRealName(
        pb.VerifyRealNameRequest(
            request_id=f"kyc-{who.user_id}",
            user_id=who.user_id,
            method=pb.VERIFICATION_METHOD_FOUR_ELEMENTS,
            name=NAME,
            id_number=who.id_number,
            card_number=who.card_number,
            phone=who.phone,
            bind_card=True,
        ),
        timeout=30,
    )
    if answer.attempt.outcome != pb.VERIFICATION_OUTCOME_MATCH:
        outcome = pb.VerificationOutcome.Name(answer.attempt.outcome)
        raise RuntimeError(f"payer {who.user_id} not real-named: {outcome}")


async def create_payers(identity_addr: str, bank_url: str, run: str, count: int) -> list[str]:
    """Real-names `count` payers with a bound card each; returns their user ids."""
    payers = [payer(run, i) for i in range(count)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(who: Payer) -> None:
        async with gate:
            await _real_name(identity, http, bank_url, who)

    async with (
        dev_channel(identity_addr) as channel,
        aiohttp.ClientSession() as http,
    ):
        identity: pb_grpc.IdentityServiceAsyncStub = pb_grpc.IdentityServiceStub(channel)
        await asyncio.gather(*(one(p) for p in payers))
    return [p.user_id for p in payers]
