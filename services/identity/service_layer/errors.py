"""Identity's use-case errors; reasons are stable, messages carry no PII."""

from __future__ import annotations

from paysuite.errors import AlreadyExists, DomainError, ErrorKind, NotFound
from paysuite.errors import RequestIdReused as RequestIdReused  # one definition for every service


class UserNotFound(NotFound):
    reason = "USER_NOT_FOUND"


class CardNotFound(NotFound):
    reason = "CARD_NOT_FOUND"


class UserExists(AlreadyExists):
    reason = "USER_EXISTS"


class PhoneRegistered(AlreadyExists):
    reason = "PHONE_ALREADY_REGISTERED"


class UserNotActive(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "USER_NOT_ACTIVE"


class NotRealNamed(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "REAL_NAME_NOT_VERIFIED"


class RealNameConflict(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "REAL_NAME_CONFLICT"


class PersonAlreadyRealNamed(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PERSON_ALREADY_REAL_NAMED"


class VerificationRateLimited(DomainError):
    kind = ErrorKind.RESOURCE_EXHAUSTED
    reason = "VERIFY_RATE_LIMITED"


class NotADowngrade(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "NOT_A_DOWNGRADE"


class LimitExceeded(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "LIMIT_EXCEEDED"


class ReservationConflict(AlreadyExists):
    reason = "PAYMENT_ID_REUSED"


class ReservationNotFound(NotFound):
    reason = "RESERVATION_NOT_FOUND"


class ReservationFinal(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "RESERVATION_FINAL"
