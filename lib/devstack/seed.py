"""Seeds the demo data idempotently, through each service's own API or use cases."""

from __future__ import annotations

import aiohttp
import grpc

from devstack import demo
from gateway.adapters.store.stores import unit_of_work_factory as gateway_units
from gateway.service_layer.merchants import register_merchant
from gateway.settings import GatewaySettings
from paysuite import accounts
from paysuite.clock import utc_now
from paysuite.identity.v1 import identity_service_pb2 as idpb
from paysuite.identity.v1 import identity_service_pb2_grpc as idpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.database import create_pool


async def seed_ledger(ledger_addr: str, merchant_id: str = demo.MERCHANT_ID) -> None:
    async with grpc.aio.insecure_channel(ledger_addr) as channel:
        await lpb_grpc.LedgerServiceStub(channel).CreateAccounts(
            lpb.CreateAccountsRequest(
                accounts=[
                    lpb.AccountSpec(
                        account_id=accounts.merchant_payable(merchant_id, demo.CURRENCY),
                        name=f"Payable to merchant {merchant_id}",
                        type=lpb.ACCOUNT_TYPE_LIABILITY,
                        currency_code=demo.CURRENCY,
                        owner_type=lpb.OWNER_TYPE_MERCHANT,
                        owner_id=merchant_id,
                    ),
                ]
            ),
            timeout=10,
        )


async def seed_merchant(
    settings: GatewaySettings, merchant_id: str = demo.MERCHANT_ID, fee_bps: int = 0
) -> None:
    pool = await create_pool(settings.dsn, schema="gateway", service="gateway-seed", size=1)
    try:
        await register_merchant(
            gateway_units(pool), merchant_id, demo.MERCHANT_NAME, utc_now, fee_bps
        )
    finally:
        await pool.close()


async def seed_user(identity_addr: str, bank_url: str, user_id: str = demo.USER_ID) -> None:
    """Registers the demo user and real-names them with the demo card, as a person would.

    The bank knows its cardholder; identity verifies the four elements through the gateway.
    """
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{bank_url}/_admin/cards",
            json={
                "card_no": demo.CARD_NUMBER,
                "name": demo.USER_NAME,
                "id_no": demo.USER_ID_NUMBER,
                "mobile": demo.USER_PHONE,
                "bank_code": demo.CARD_BANK,
            },
        ) as response,
    ):
        response.raise_for_status()
    async with grpc.aio.insecure_channel(identity_addr) as channel:
        identity = idpb_grpc.IdentityServiceStub(channel)
        try:
            user = (await identity.GetUser(idpb.GetUserRequest(user_id=user_id), timeout=10)).user
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:
                raise
            registered = await identity.RegisterUser(
                idpb.RegisterUserRequest(
                    request_id=f"seed-{user_id}", user_id=user_id, phone=demo.USER_PHONE
                ),
                timeout=10,
            )
            user = registered.user
        if user.real_name_verified:
            return
        answer = await identity.VerifyRealName(
            idpb.VerifyRealNameRequest(
                request_id=f"seed-verify-{user_id}",
                user_id=user_id,
                method=idpb.VERIFICATION_METHOD_FOUR_ELEMENTS,
                name=demo.USER_NAME,
                id_number=demo.USER_ID_NUMBER,
                card_number=demo.CARD_NUMBER,
                phone=demo.USER_PHONE,
                bind_card=True,
            ),
            timeout=30,
        )
        if answer.attempt.outcome != idpb.VERIFICATION_OUTCOME_MATCH:
            outcome = idpb.VerificationOutcome.Name(answer.attempt.outcome)
            raise RuntimeError(f"the demo user could not be real-named: {outcome}")
