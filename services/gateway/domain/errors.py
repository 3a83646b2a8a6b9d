"""Gateway domain errors; clients branch on the reason."""

from __future__ import annotations

from paysuite.errors import AlreadyExists, DomainError, ErrorKind, NotFound


class PaymentNotFound(NotFound):
    reason = "PAYMENT_NOT_FOUND"


class MerchantNotFound(NotFound):
    reason = "MERCHANT_NOT_FOUND"


class RequestIdReused(AlreadyExists):
    reason = "REQUEST_ID_REUSED"


class OrderAlreadyPaid(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "ORDER_ALREADY_PAID"


class ChannelNotSupported(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "METHOD_NOT_SUPPORTED"
