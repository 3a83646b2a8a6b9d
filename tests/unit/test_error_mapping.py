"""Pure tests of domain errors and their mapping to google.rpc.Status with rich details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from gateway.domain.errors import OrderAlreadyPaid, PaymentNotFound
from gateway.domain.model import IllegalTransition
from identity.service_layer.errors import UserNotFound
from paysuite.errors import (
    DomainError,
    ErrorKind,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
    Violations,
)
from paysuite.runtime.grpc_errors import (
    CODE_BY_KIND,
    error_info,
    field_violations,
    rich_status,
    status_of_error,
)

DOMAIN = "ledger.paysuite.example"


def _details(
    status: status_pb2.Status,
) -> tuple[list[error_details_pb2.ErrorInfo], list[error_details_pb2.BadRequest]]:
    infos: list[error_details_pb2.ErrorInfo] = []
    bad_requests: list[error_details_pb2.BadRequest] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            bad_requests.append(bad)
        else:
            raise AssertionError(f"unexpected detail {detail.type_url}")
    return infos, bad_requests


def _failed_call(*trailers: tuple[str, str | bytes]) -> grpc.aio.AioRpcError:
    """A failed call as grpc.aio reports it, carrying only the given trailing metadata."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*trailers),
        None,
        None,
    )


def _as_failed_call(status: status_pb2.Status) -> grpc.aio.AioRpcError:
    return _failed_call(("x-other", "1"), ("grpc-status-details-bin", status.SerializeToString()))


# --- status_of_error -------------------------------------------------------------------------


def test_invalid_argument_carries_bad_request_and_error_info() -> None:
    error = InvalidArgument(
        [
            FieldViolation("amount.minor_units", "must be positive"),
            FieldViolation("amount.currency_code", "must be a supported ISO 4217 code"),
        ]
    )

    code, status = status_of_error(error, DOMAIN)

    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert status.code == 3
    assert status.message == "invalid fields: amount.minor_units, amount.currency_code"
    [info], [bad] = _details(status)
    assert (info.reason, info.domain, dict(info.metadata)) == ("INVALID_ARGUMENT", DOMAIN, {})
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("amount.minor_units", "must be positive"),
        ("amount.currency_code", "must be a supported ISO 4217 code"),
    ]


def test_invalid_argument_keeps_an_explicit_message() -> None:
    error = InvalidArgument([FieldViolation("x", "bad")], message="request is malformed")

    _, status = status_of_error(error, DOMAIN)

    assert status.message == "request is malformed"


@pytest.mark.parametrize(
    ("error_type", "reason"),
    [
        (UserNotFound, "USER_NOT_FOUND"),
        (PaymentNotFound, "PAYMENT_NOT_FOUND"),
        (NotFound, "NOT_FOUND"),
    ],
)
def test_not_found_subclasses_map_to_not_found_with_their_reason(
    error_type: type[NotFound], reason: str
) -> None:
    error = error_type("resource not found", metadata={"id": "x1", "kind": "thing"})

    code, status = status_of_error(error, DOMAIN)

    assert code is grpc.StatusCode.NOT_FOUND
    assert status.code == 5
    assert status.message == "resource not found"
    [info], bad_requests = _details(status)
    assert bad_requests == []
    assert (info.reason, info.domain) == (reason, DOMAIN)
    assert dict(info.metadata) == {"id": "x1", "kind": "thing"}


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (
            IllegalTransition("final", metadata={"state": "succeeded"}),
            grpc.StatusCode.FAILED_PRECONDITION,
            "PAYMENT_STATE_FINAL",
        ),
        (OrderAlreadyPaid("paid"), grpc.StatusCode.FAILED_PRECONDITION, "ORDER_ALREADY_PAID"),
        (Unavailable("bank down"), grpc.StatusCode.UNAVAILABLE, "DEPENDENCY_UNAVAILABLE"),
        (
            DomainError("x", reason="QUOTA", kind=ErrorKind.RESOURCE_EXHAUSTED),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "QUOTA",
        ),
    ],
)
def test_other_domain_errors_map_by_kind_and_keep_their_reason(
    error: DomainError, code: grpc.StatusCode, reason: str
) -> None:
    mapped_code, status = status_of_error(error, DOMAIN)

    assert mapped_code is code
    assert status.code == code.value[0]
    [info], bad_requests = _details(status)
    assert info.reason == reason
    assert bad_requests == []


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_error_kind_has_the_status_code_of_the_same_name(kind: ErrorKind) -> None:
    assert CODE_BY_KIND[kind].name == kind.name


def test_status_round_trips_through_trailing_metadata() -> None:
    error = InvalidArgument([FieldViolation("request_id", "required")])
    _, status = status_of_error(error, DOMAIN)
    call = _as_failed_call(status)

    assert rich_status(call) == status
    info = error_info(call)
    assert info is not None
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", DOMAIN)
    assert field_violations(call) == [("request_id", "required")]


def test_call_without_rich_status_has_no_details() -> None:
    call = _failed_call(("x-other", "1"))

    assert rich_status(call) is None
    assert error_info(call) is None
    assert field_violations(call) == []


# --- DomainError and Violations --------------------------------------------------------------


def test_class_reason_and_kind_can_be_overridden_per_instance() -> None:
    error = UserNotFound("gone", reason="USER_DELETED", kind=ErrorKind.FAILED_PRECONDITION)

    assert (error.reason, error.kind) == ("USER_DELETED", ErrorKind.FAILED_PRECONDITION)
    assert UserNotFound("x").reason == "USER_NOT_FOUND"  # the class default is untouched


def test_metadata_is_copied() -> None:
    metadata = {"user_id": "u1"}
    error = UserNotFound("gone", metadata=metadata)
    metadata["user_id"] = "u2"

    assert error.metadata == {"user_id": "u1"}
    assert UserNotFound("gone").metadata == {}


def test_empty_violations_do_not_raise() -> None:
    violations = Violations()
    violations.require(True, "amount", "must be positive")

    assert not violations
    violations.raise_if_any()


def test_violations_collect_in_order_and_raise_together() -> None:
    violations = Violations()
    violations.require(False, "amount", "must be positive")
    violations.require(True, "currency", "unused")
    violations.add("request_id", "required")

    assert violations
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()

    assert raised.value.violations == [
        FieldViolation("amount", "must be positive"),
        FieldViolation("request_id", "required"),
    ]
    assert raised.value.message == "invalid fields: amount, request_id"
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
