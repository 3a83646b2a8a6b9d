"""Page tokens are opaque, signed, and bound to the request's filters; page sizes are clamped."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from paysuite.errors import InvalidArgument, Violations
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.runtime.paging import Page, PageSize, Paging

SIZES = PageSize(default=50, maximum=500)
PAGING = Paging(b"k" * 32)
AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _page(request: gpb.ListPaymentsRequest, paging: Paging = PAGING) -> Page[tuple[datetime, str]]:
    violations = Violations()
    page = paging.page(request, SIZES, violations, (datetime, str))
    violations.raise_if_any()
    return page


def _refused(request: gpb.ListPaymentsRequest, paging: Paging = PAGING) -> str:
    with pytest.raises(InvalidArgument) as caught:
        _page(request, paging)
    [violation] = caught.value.violations
    assert violation.field == "page_token"
    return violation.description


def _next_token(request: gpb.ListPaymentsRequest) -> str:
    rows = [(AT, "pay_1"), (AT, "pay_2"), (AT, "pay_3")]
    page = _page(request)
    listed, token = page.cut(rows[: page.size + 1], lambda row: row)
    assert listed == rows[:2] and token
    return token


def test_page_size_zero_is_the_default_and_large_sizes_are_the_maximum() -> None:
    assert _page(gpb.ListPaymentsRequest(merchant_id="M1")).size == 50
    assert _page(gpb.ListPaymentsRequest(merchant_id="M1", page_size=7)).size == 7
    assert _page(gpb.ListPaymentsRequest(merchant_id="M1", page_size=100_000)).size == 500


def test_a_negative_page_size_is_invalid() -> None:
    with pytest.raises(InvalidArgument) as caught:
        _page(gpb.ListPaymentsRequest(merchant_id="M1", page_size=-1))
    assert [v.field for v in caught.value.violations] == ["page_size"]


def test_a_stream_batch_size_is_clamped_alike_and_named_as_its_field() -> None:
    violations = Violations()
    assert SIZES.clamp(0, violations, "batch_size") == 50
    assert SIZES.clamp(100_000, violations, "batch_size") == 500
    SIZES.clamp(-1, violations, "batch_size")
    with pytest.raises(InvalidArgument) as caught:
        violations.raise_if_any()
    assert [v.field for v in caught.value.violations] == ["batch_size"]


def test_the_token_round_trips_the_position_and_the_last_page_has_none() -> None:
    request = gpb.ListPaymentsRequest(merchant_id="M1", page_size=2)
    token = _next_token(request)
    request.page_token = token
    page = _page(request)
    assert page.after == (AT, "pay_2")
    assert page.cut([(AT, "pay_3")], lambda row: row) == ([(AT, "pay_3")], "")


def test_the_page_size_may_change_between_pages() -> None:
    token = _next_token(gpb.ListPaymentsRequest(merchant_id="M1", page_size=2))
    page = _page(gpb.ListPaymentsRequest(merchant_id="M1", page_size=10, page_token=token))
    assert (page.size, page.after) == (10, (AT, "pay_2"))


def test_the_token_does_not_show_its_position_as_plain_base64_text() -> None:
    token = _next_token(gpb.ListPaymentsRequest(merchant_id="M1", page_size=2))
    assert "pay_2" not in token and "|" not in token


@pytest.mark.parametrize(
    "change",
    [
        {"merchant_id": "M2"},
        {"merchant_order_no": "O-1"},
        {"state": gpb.Payment.STATE_SUCCEEDED},
    ],
)
def test_a_token_reused_with_other_filters_is_refused(change: dict[str, object]) -> None:
    request = gpb.ListPaymentsRequest(merchant_id="M1", page_size=2)
    token = _next_token(request)
    other = gpb.ListPaymentsRequest(merchant_id="M1", page_size=2, page_token=token)
    for field, value in change.items():
        setattr(other, field, value)
    assert "filters differ" in _refused(other)


def test_a_token_of_another_method_with_the_same_fields_is_refused() -> None:
    violations = Violations()
    ledger = PAGING.page(lpb.ListAccountsRequest(page_size=1), SIZES, violations, (str,))
    _, token = ledger.cut(["a", "b"], lambda row: (row,))
    assert "filters differ" in _refused(gpb.ListPaymentsRequest(page_token=token))


def test_a_tampered_position_is_refused() -> None:
    token = _next_token(gpb.ListPaymentsRequest(merchant_id="M1", page_size=2))
    body, mac = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    decoded[2][1] = "pay_0"
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    request = gpb.ListPaymentsRequest(merchant_id="M1", page_token=f"{forged}.{mac}")
    assert _refused(request) == "not a page token from this API"


@pytest.mark.parametrize("token", ["%%%", "abc", "abc.def", ".", "MjAyNnxwYXlfMQ"])
def test_made_up_tokens_are_refused(token: str) -> None:
    request = gpb.ListPaymentsRequest(merchant_id="M1", page_token=token)
    assert _refused(request) == "not a page token from this API"


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = _next_token(gpb.ListPaymentsRequest(merchant_id="M1", page_size=2))
    request = gpb.ListPaymentsRequest(merchant_id="M1", page_token=token)
    assert _refused(request, Paging(b"o" * 32)) == "not a page token from this API"


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Paging(b"short")
