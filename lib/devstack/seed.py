"""Seeds the demo data idempotently, through each service's own API."""

from __future__ import annotations

import aiohttp
import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from devstack import demo
from devstack.pki import DevCA
from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.identity.v1 import identity_service_pb2 as idpb
from paysuite.identity.v1 import identity_service_pb2_grpc as idpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import settlement_service_pb2 as spb
from paysuite.recon.v1 import settlement_service_pb2_grpc as spb_grpc
from paysuite.runtime.grpc_errors import error_reason
from paysuite.runtime.identities import operator
from paysuite.type.v1.error_reason_pb2 import ErrorReason


def _as_operator(address: str, ca: DevCA | None) -> grpc.aio.Channel:
    """The seed acts as the operator, as a person onboarding would, through each API."""
    return (ca or DevCA.from_environment()).channel(address, operator())


async def seed_ledger(
    ledger_addr: str, merchant_id: str = demo.MERCHANT_ID, *, ca: DevCA | None = None
) -> None:
    async with _as_operator(ledger_addr, ca) as channel:
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
    gateway_addr: str,
    merchant_id: str = demo.MERCHANT_ID,
    fee_bps: int = 0,
    *,
    ca: DevCA | None = None,
) -> None:
    """Registers the demo merchant through the gateway's API; when it is registered already,
    sets its name and fee rate (so the seed can run again, with another fee rate too)."""
    merchant = gpb.Merchant(merchant_id=merchant_id, name=demo.MERCHANT_NAME, fee_rate_bps=fee_bps)
    async with _as_operator(gateway_addr, ca) as channel:
        gateway = gpb_grpc.GatewayServiceStub(channel)
        try:
            await gateway.RegisterMerchant(
                gpb.RegisterMerchantRequest(merchant=merchant), timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            if error_reason(exc) != ErrorReason.ERROR_REASON_MERCHANT_EXISTS:
                raise
            await gateway.UpdateMerchant(
                gpb.UpdateMerchantRequest(
                    merchant=merchant, update_mask=FieldMask(paths=["name", "fee_rate_bps"])
                ),
                timeout=10,
            )


async def seed_user(
    identity_addr: str, bank_url: str, user_id: str = demo.USER_ID, *, ca: DevCA | None = None
) -> None:
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
    async with _as_operator(identity_addr, ca) as channel:
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


async def seed_settlement(
    recon_addr: str, merchant_id: str = demo.MERCHANT_ID, *, ca: DevCA | None = None
) -> None:
    """Sets the demo merchant's settlement: D+0 (paid on the trade date once it is cleared,
    whatever the weekday) to its bank account, so `payctl settle run --date D` pays it."""
    settings = spb.SettlementSettings(
        merchant_id=merchant_id,
        currency_code=demo.CURRENCY,
        advance=True,
        account_no=demo.SETTLEMENT_ACCOUNT_NO,
        account_name=demo.MERCHANT_NAME,
    )
    async with _as_operator(recon_addr, ca) as channel:
        await spb_grpc.SettlementServiceStub(channel).UpdateSettlementSettings(
            spb.UpdateSettlementSettingsRequest(
                settings=settings,
                update_mask=FieldMask(
                    paths=["currency_code", "advance", "account_no", "account_name"]
                ),
            ),
            timeout=10,
        )
