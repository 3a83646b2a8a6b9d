"""payctl merchant create/get/update: onboarding through the gateway (operators only), and in
dev the merchant's client certificate from the dev CA."""

from __future__ import annotations

import enum
from typing import Annotated

import typer
from google.protobuf.field_mask_pb2 import FieldMask

from devstack.pki import DevCA
from payctl.common import JsonOption, caller
from payctl.gateway_commands import GatewayOption, gateway_call
from payctl.output import emit, message_dict
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.runtime.enums import short_name
from paysuite.runtime.identities import merchant as merchant_identity

merchant_app = typer.Typer(help="Merchants: onboarding and terms (operators).")


class State(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


STATES = {State.ACTIVE: gpb.MERCHANT_STATE_ACTIVE, State.SUSPENDED: gpb.MERCHANT_STATE_SUSPENDED}


def _emit(merchant: gpb.Merchant, as_json: bool, extra: dict[str, str] | None = None) -> None:
    state = short_name(gpb.MerchantState, merchant.state)
    emit(
        {**message_dict(merchant), **(extra or {})},
        as_json,
        f"{merchant.merchant_id} {merchant.name} fee {merchant.fee_rate_bps} bps {state}",
    )


def _issue_certificate(merchant_id: str) -> dict[str, str]:
    """In dev, where the CA's key is at hand: the merchant's certificate and key, so it can
    call as --as merchant-<id>. Elsewhere the operator issues it from the suite's CA."""
    ca = DevCA(caller().pki_dir)
    if not (ca.directory / "ca.key").exists():
        return {}
    identity = merchant_identity(merchant_id)
    ca.issue(identity)
    return {"certificate": str(ca.cert_file(identity)), "key": str(ca.key_file(identity))}


@merchant_app.command("create")
def create(
    merchant_id: Annotated[str, typer.Argument(help="merchant id, e.g. M100002")],
    name: Annotated[str, typer.Option(help="display name")],
    fee_bps: Annotated[int, typer.Option(help="fee rate in basis points")] = 0,
    settlement_account: Annotated[str, typer.Option(help="ledger account settled to")] = "",
    certificate: Annotated[
        bool, typer.Option(help="issue its client certificate from the dev CA")
    ] = True,
    gateway: GatewayOption = "localhost:50051",
    as_json: JsonOption = False,
) -> None:
    """Registers a merchant (active) and, in dev, issues its client certificate."""
    request = gpb.RegisterMerchantRequest(
        merchant=gpb.Merchant(
            merchant_id=merchant_id,
            name=name,
            fee_rate_bps=fee_bps,
            settlement_account_id=settlement_account,
        )
    )
    answer = gateway_call(gateway, lambda stub: stub.RegisterMerchant(request, timeout=10))
    issued = _issue_certificate(merchant_id) if certificate else {}
    _emit(answer.merchant, as_json, issued)


@merchant_app.command("get")
def get(
    merchant_id: str, gateway: GatewayOption = "localhost:50051", as_json: JsonOption = False
) -> None:
    """A merchant's terms and state."""
    request = gpb.GetMerchantRequest(merchant_id=merchant_id)
    _emit(
        gateway_call(gateway, lambda stub: stub.GetMerchant(request, timeout=10)).merchant, as_json
    )


@merchant_app.command("update")
def update(
    merchant_id: str,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    fee_bps: Annotated[int | None, typer.Option(help="fee rate in basis points")] = None,
    settlement_account: Annotated[str | None, typer.Option(help="ledger account")] = None,
    state: Annotated[State | None, typer.Option(help="active or suspended")] = None,
    gateway: GatewayOption = "localhost:50051",
    as_json: JsonOption = False,
) -> None:
    """Changes the fields given; a suspended merchant's new payments are refused."""
    merchant = gpb.Merchant(merchant_id=merchant_id)
    paths: list[str] = []
    if name is not None:
        merchant.name, paths = name, [*paths, "name"]
    if fee_bps is not None:
        merchant.fee_rate_bps, paths = fee_bps, [*paths, "fee_rate_bps"]
    if settlement_account is not None:
        merchant.settlement_account_id = settlement_account
        paths.append("settlement_account_id")
    if state is not None:
        merchant.state, paths = STATES[state], [*paths, "state"]
    request = gpb.UpdateMerchantRequest(merchant=merchant, update_mask=FieldMask(paths=paths))
    answer = gateway_call(gateway, lambda stub: stub.UpdateMerchant(request, timeout=10))
    _emit(answer.merchant, as_json)
