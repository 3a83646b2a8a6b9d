"""Domain errors shared by the services: a kind, a stable machine reason, and a safe message."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

# The reason of an unexpected failure: the edge answers INTERNAL with it, never with details.
# Every reason (this one and each DomainError subclass's) is published in the protos as
# paysuite.type.v1.ErrorReason; a unit test keeps the two in step.
INTERNAL_REASON = "INTERNAL"


class ErrorKind(enum.Enum):
    """What went wrong, independent of transport; the edge maps it to a status code."""

    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    PERMISSION_DENIED = "permission_denied"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNAVAILABLE = "unavailable"
    ABORTED = "aborted"
    UNAUTHENTICATED = "unauthenticated"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field of a request, named by its path (e.g. "amount.minor_units")."""

    field: str
    description: str


class DomainError(Exception):
    """An expected failure with a stable reason that clients branch on.

    Messages must never contain PII: they travel to callers, logs and spans.
    """

    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION
    reason: str = "FAILED_PRECONDITION"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        kind: ErrorKind | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if kind is not None:
            self.kind = kind
        self.metadata = dict(metadata or {})


_FIELDS_NAMED = 10  # in the message; an oversized request's list would outgrow gRPC's trailers


class InvalidArgument(DomainError):
    """The request is malformed; nothing was written."""

    kind = ErrorKind.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Sequence[FieldViolation], message: str | None = None) -> None:
        self.violations = list(violations)
        named = [v.field for v in self.violations[:_FIELDS_NAMED]]
        more = len(self.violations) - len(named)
        fields = ", ".join(named) + (f" and {more} more" if more else "")
        super().__init__(message or f"invalid fields: {fields}")


class NotFound(DomainError):
    """The named resource does not exist."""

    kind = ErrorKind.NOT_FOUND
    reason = "NOT_FOUND"


class AccountNotFound(NotFound):
    """No such account: in the ledger, or at a bank (the reserve account's statement)."""

    reason = "ACCOUNT_NOT_FOUND"


class AlreadyExists(DomainError):
    """A resource or request id exists with different content."""

    kind = ErrorKind.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class RequestIdReused(AlreadyExists):
    """The request id was used before for a request with different content."""

    reason = "REQUEST_ID_REUSED"


class Unavailable(DomainError):
    """A dependency could not be reached; the call may be retried with the same request id."""

    kind = ErrorKind.UNAVAILABLE
    reason = "DEPENDENCY_UNAVAILABLE"


class RateLimited(DomainError):
    """Too many calls: the edge answers RESOURCE_EXHAUSTED with RetryInfo of retry_after."""

    kind = ErrorKind.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self, message: str, *, retry_after: float, metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.retry_after = retry_after


# C0 and C1 controls (Unicode category Cc). Other characters Python calls unprintable stay
# allowed: the ideographic space and emoji joiners are ordinary in Chinese text.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL_CHARACTER.search(value) is not None


class Violations:
    """Collects field violations during validation and raises them together."""

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self._items.append(FieldViolation(field, description))

    def require(self, condition: bool, field: str, description: str) -> None:
        if not condition:
            self.add(field, description)

    def text(self, value: str, field: str, *, at_most: int, required: bool = False) -> None:
        """A free-text field: at most `at_most` characters, not blank when required, and no
        control character (NUL above all, which Postgres text cannot hold; a line break)."""
        self.require(
            len(value) <= at_most
            and (bool(value.strip()) or not required)
            and not has_control_characters(value),
            field,
            f"{'required, ' if required else ''}at most {at_most} characters, no control character",
        )

    def extend(self, other: Violations, *, prefix: str) -> None:
        """Takes another collection's violations, their fields under prefix (e.g. "items[2].")."""
        self._items.extend(FieldViolation(prefix + v.field, v.description) for v in other._items)

    def raise_if_any(self) -> None:
        if self._items:
            raise InvalidArgument(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)
