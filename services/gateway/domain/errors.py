"""Gateway domain errors; clients branch on the reason."""

from __future__ import annotations

from paysuite.errors import DomainError, ErrorKind, NotFound
from paysuite.errors import RequestIdReused as RequestIdReused  # one definition for every service


class PaymentNotFound(NotFound):
    reason = "PAYMENT_NOT_FOUND"


class MerchantNotFound(NotFound):
    reason = "MERCHANT_NOT_FOUND"


class OrderAlreadyPaid(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "ORDER_ALREADY_PAID"


class ChannelNotSupported(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "METHOD_NOT_SUPPORTED"


class PayoutNotFound(NotFound):
    reason = "PAYOUT_NOT_FOUND"
