"""Merchant terms and the merchant messages: what registration and update accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from gateway.domain.merchants import Merchant, MerchantState, MerchantTerms, TermsChange
from gateway.entrypoints import merchants as convert
from paysuite.errors import InvalidArgument
from paysuite.gateway.v1 import gateway_service_pb2 as pb

NOW = datetime(2026, 3, 4, tzinfo=UTC)


def _fields(error: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in error.value.violations}


def test_a_change_sets_only_the_terms_it_names() -> None:
    merchant = Merchant.register("M1", MerchantTerms("Shop", 60, "acc.1"), NOW)
    later = NOW + timedelta(minutes=1)
    changed = merchant.changed(TermsChange(fee_bps=80, state=MerchantState.SUSPENDED), later)
    assert changed.terms == MerchantTerms("Shop", 80, "acc.1", MerchantState.SUSPENDED)
    assert (changed.created_at, changed.updated_at) == (NOW, later)
    assert merchant.changed(TermsChange(fee_bps=60), later) is merchant


def test_a_fee_rate_is_at_most_the_whole_amount() -> None:
    assert MerchantTerms("Shop", 10_000).fee_bps == 10_000
    with pytest.raises(ValueError, match="basis points"):
        MerchantTerms("Shop", 10_001)


def test_registration_reads_the_merchant_and_defaults_to_active() -> None:
    request = pb.RegisterMerchantRequest(
        merchant=pb.Merchant(merchant_id="M1", name=" Shop ", fee_rate_bps=60)
    )
    assert convert.registration(request) == ("M1", MerchantTerms("Shop", 60))


def test_registration_names_every_bad_field() -> None:
    bad = pb.Merchant(
        merchant_id="M 1",
        name="",
        fee_rate_bps=-1,
        settlement_account_id="a b",
        state=pb.MerchantState.ValueType(7),
    )
    with pytest.raises(InvalidArgument) as caught:
        convert.registration(pb.RegisterMerchantRequest(merchant=bad))
    assert _fields(caught) == {
        "merchant.merchant_id",
        "merchant.name",
        "merchant.fee_rate_bps",
        "merchant.settlement_account_id",
        "merchant.state",
    }
    with pytest.raises(InvalidArgument) as caught:
        convert.registration(pb.RegisterMerchantRequest())
    assert "merchant" in _fields(caught)


@pytest.mark.parametrize("name", ["\x00", "shop\x00", "two\nlines"])
def test_a_name_with_control_characters_is_refused(name: str) -> None:
    given = pb.Merchant(merchant_id="M1", name=name, fee_rate_bps=60)
    with pytest.raises(InvalidArgument) as caught:
        convert.registration(pb.RegisterMerchantRequest(merchant=given))
    assert _fields(caught) == {"merchant.name"}


def test_an_update_changes_the_masked_fields_only() -> None:
    request = pb.UpdateMerchantRequest(
        merchant=pb.Merchant(merchant_id="M1", name="ignored", fee_rate_bps=80),
        update_mask=FieldMask(paths=["fee_rate_bps"]),
    )
    assert convert.update(request) == ("M1", TermsChange(fee_bps=80))


def test_an_update_without_a_mask_changes_the_fields_set() -> None:
    request = pb.UpdateMerchantRequest(
        merchant=pb.Merchant(merchant_id="M1", state=pb.MERCHANT_STATE_SUSPENDED)
    )
    assert convert.update(request) == ("M1", TermsChange(state=MerchantState.SUSPENDED))


def test_a_star_mask_replaces_every_term() -> None:
    request = pb.UpdateMerchantRequest(
        merchant=pb.Merchant(merchant_id="M1", name="Shop", state=pb.MERCHANT_STATE_ACTIVE),
        update_mask=FieldMask(paths=["*"]),
    )
    assert convert.update(request) == (
        "M1",
        TermsChange("Shop", 0, "", MerchantState.ACTIVE),
    )


@pytest.mark.parametrize(
    ("mask", "merchant", "fields"),
    [
        (["merchant_id"], pb.Merchant(merchant_id="M1"), {"update_mask"}),
        (["create_time", "name"], pb.Merchant(merchant_id="M1", name="x"), {"update_mask"}),
        (["state"], pb.Merchant(merchant_id="M1"), {"merchant.state"}),
        (
            ["fee_rate_bps"],
            pb.Merchant(fee_rate_bps=20_000),
            {"merchant.merchant_id", "merchant.fee_rate_bps"},
        ),
        (None, pb.Merchant(merchant_id="M1"), {"merchant"}),
    ],
)
def test_bad_updates_name_their_fields(
    mask: list[str] | None, merchant: pb.Merchant, fields: set[str]
) -> None:
    request = pb.UpdateMerchantRequest(merchant=merchant)
    if mask is not None:
        request.update_mask.paths.extend(mask)
    with pytest.raises(InvalidArgument) as caught:
        convert.update(request)
    assert _fields(caught) == fields


def test_a_merchant_reads_back_in_proto_terms() -> None:
    merchant = Merchant.register(
        "M1", MerchantTerms("Shop", 60, "acc.1", MerchantState.SUSPENDED), NOW
    )
    message = convert.merchant_to_proto(merchant)
    assert (message.merchant_id, message.name, message.fee_rate_bps) == ("M1", "Shop", 60)
    assert (message.settlement_account_id, message.state) == ("acc.1", pb.MERCHANT_STATE_SUSPENDED)
    assert message.create_time.ToDatetime(UTC) == NOW
