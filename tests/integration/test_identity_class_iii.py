"""One Class III account per natural person, held by the database under concurrency."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from identity.bootstrap import build_app as build_identity
from identity.settings import IdentitySettings
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_info
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.conftest import serving
from tests.integration.kyc_support import BANK_BINS, bank_knows, fresh_card, fresh_person


@pytest.fixture
async def shared_person_identity(
    gateway_addr: str, gateway_port: int
) -> AsyncIterator[pb_grpc.IdentityServiceAsyncStub]:
    """Identity configured to let one person real-name several users (the setting is off)."""
    settings = IdentitySettings(gateway_addr=f"127.0.0.1:{gateway_port}", one_user_per_person=False)
    async with serving(build_identity, settings) as addr:
        yield pb_grpc.IdentityServiceStub(connect(addr))


async def test_two_users_of_one_person_race_and_one_gets_class_iii(
    shared_person_identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str, db: asyncpg.Connection
) -> None:
    identity = shared_person_identity
    person = fresh_person()
    banks = list(BANK_BINS)
    users = []
    for n in range(2):
        answer = await identity.RegisterUser(
            pb.RegisterUserRequest(
                request_id=f"r-{secrets.token_hex(6)}", phone=f"13{n + 5}{person.phone[3:]}"
            )
        )
        users.append(answer.user.user_id)
    cards = {bank: fresh_card(bank) for bank in banks}
    for bank, card in cards.items():
        await bank_knows(bank_url, person, card, bank)

    async def verify(user_id: str, bank: str) -> pb.VerifyRealNameResponse:
        return await identity.VerifyRealName(
            pb.VerifyRealNameRequest(
                request_id=f"v-{secrets.token_hex(6)}",
                user_id=user_id,
                method=pb.VERIFICATION_METHOD_FOUR_ELEMENTS,
                name=person.name,
                id_number=person.id_number,
                card_number=cards[bank],
                phone=person.phone,
                bind_card=True,
            ),
            timeout=30,
        )

    for bank in banks[:4]:
        await verify(users[0], bank)
    await verify(users[1], banks[0])
    # The fifth provider arrives for both users at once: each would earn Class III.
    await asyncio.gather(verify(users[0], banks[4]), verify(users[1], banks[5]))
    tiers = [(await identity.GetTier(pb.GetTierRequest(user_id=u))).tier for u in users]
    assert sorted(tiers) == [pb.TIER_CLASS_II, pb.TIER_CLASS_III]
    # Yearly limits add up over every account of the person.
    class_ii, class_iii = (
        (users[0], users[1]) if tiers[0] == pb.TIER_CLASS_II else (users[1], users[0])
    )
    await identity.ReserveLimit(
        pb.ReserveLimitRequest(
            payment_id=f"agg1-{class_iii}",
            user_id=class_iii,
            amount=Money(currency_code="CNY", minor_units=9_999_999),
            funding=pb.FUNDING_BALANCE,
            digital_certificate=True,
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await identity.ReserveLimit(
            pb.ReserveLimitRequest(
                payment_id=f"agg2-{class_ii}",
                user_id=class_ii,
                amount=Money(currency_code="CNY", minor_units=2),
                funding=pb.FUNDING_BALANCE,
                digital_certificate=True,
            )
        )
    info = error_info(over.value)
    assert info is not None and info.metadata["window"] == "TIER_YEARLY"
    # Not only the code: the database refuses a second Class III for the person outright.
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "UPDATE identity.users SET tier = 'class_iii' WHERE user_id = ANY($1)", users
        )
