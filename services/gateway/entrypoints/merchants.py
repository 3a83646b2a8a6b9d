"""RegisterMerchant, GetMerchant, UpdateMerchant: merchant messages to commands and back."""

from __future__ import annotations

from gateway.domain.fees import BPS_PER_UNIT
from gateway.domain.merchants import Merchant, MerchantState, MerchantTerms, TermsChange
from paysuite.errors import Violations
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.runtime.protoconv import check_id, timestamp

STATES = {
    MerchantState.ACTIVE: pb.MERCHANT_STATE_ACTIVE,
    MerchantState.SUSPENDED: pb.MERCHANT_STATE_SUSPENDED,
}
STATES_IN = {v: k for k, v in STATES.items()}
# The fields UpdateMerchant may change, as update_mask paths; "*" stands for all of them.
UPDATABLE = ("name", "fee_rate_bps", "settlement_account_id", "state")
MAX_NAME_LENGTH = 128


def merchant_id(value: str, field: str, violations: Violations) -> str:
    return check_id(value, field, violations, max_length=32)


def _name(value: str, violations: Violations) -> str:
    name = value.strip()
    violations.text(name, "merchant.name", at_most=MAX_NAME_LENGTH, required=True)
    return name


def _fee(value: int, violations: Violations) -> int:
    violations.require(
        0 <= value <= BPS_PER_UNIT, "merchant.fee_rate_bps", f"0 to {BPS_PER_UNIT} basis points"
    )
    return value


def _account(value: str, violations: Violations) -> str:
    return check_id(
        value, "merchant.settlement_account_id", violations, max_length=128, required=False
    )


def _state(value: pb.MerchantState.ValueType, violations: Violations) -> MerchantState:
    state = STATES_IN.get(value)
    violations.require(state is not None, "merchant.state", "ACTIVE or SUSPENDED")
    return state or MerchantState.ACTIVE


def registration(request: pb.RegisterMerchantRequest) -> tuple[str, MerchantTerms]:
    """The merchant id and terms to register, or INVALID_ARGUMENT naming every bad field."""
    violations = Violations()
    violations.require(request.HasField("merchant"), "merchant", "required")
    given = request.merchant
    merchant = merchant_id(given.merchant_id, "merchant.merchant_id", violations)
    name = _name(given.name, violations)
    fee = _fee(given.fee_rate_bps, violations)
    account = _account(given.settlement_account_id, violations)
    state = MerchantState.ACTIVE
    if given.state != pb.MERCHANT_STATE_UNSPECIFIED:
        state = _state(given.state, violations)
    violations.raise_if_any()
    return merchant, MerchantTerms(name, fee, account, state)


def update(request: pb.UpdateMerchantRequest) -> tuple[str, TermsChange]:
    """The merchant id and the change its update_mask asks for (AIP-134: no mask means every
    field set in the merchant), or INVALID_ARGUMENT naming every bad field."""
    violations = Violations()
    violations.require(request.HasField("merchant"), "merchant", "required")
    given = request.merchant
    merchant = merchant_id(given.merchant_id, "merchant.merchant_id", violations)
    if request.HasField("update_mask"):
        paths = list(request.update_mask.paths)
        if paths == ["*"]:
            paths = list(UPDATABLE)
        for path in paths:
            if path not in UPDATABLE:
                violations.add("update_mask", f"{path!r} cannot be updated; {', '.join(UPDATABLE)}")
        violations.require(bool(paths), "update_mask", "name at least one field")
    else:
        paths = [f.name for f, _ in given.ListFields() if f.name in UPDATABLE]
        violations.require(bool(paths), "merchant", "set at least one field to change")
    change = TermsChange(
        name=_name(given.name, violations) if "name" in paths else None,
        fee_bps=_fee(given.fee_rate_bps, violations) if "fee_rate_bps" in paths else None,
        settlement_account_id=(
            _account(given.settlement_account_id, violations)
            if "settlement_account_id" in paths
            else None
        ),
        state=_state(given.state, violations) if "state" in paths else None,
    )
    violations.raise_if_any()
    return merchant, change


def merchant_to_proto(merchant: Merchant) -> pb.Merchant:
    terms = merchant.terms
    return pb.Merchant(
        merchant_id=merchant.merchant_id,
        name=terms.name,
        fee_rate_bps=terms.fee_bps,
        settlement_account_id=terms.settlement_account_id,
        state=STATES[terms.state],
        create_time=timestamp(merchant.created_at),
        update_time=timestamp(merchant.updated_at),
    )
