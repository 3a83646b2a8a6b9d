"""Conversions between shared protobuf types and domain values, with field validation."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2

from paysuite.errors import Violations
from paysuite.money import CurrencyError, Money, check_currency
from paysuite.type.v1 import money_pb2

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


def money_to_proto(money: Money) -> money_pb2.Money:
    return money_pb2.Money(currency_code=money.currency, minor_units=money.minor_units)


def money_from_proto(
    message: money_pb2.Money,
    field: str,
    violations: Violations,
    *,
    has_value: bool = True,
    positive: bool = True,
) -> Money | None:
    """The Money in a request field, or None with violations recorded."""
    if not has_value:
        violations.add(field, "required")
        return None
    try:
        currency = check_currency(message.currency_code)
    except CurrencyError:
        violations.add(f"{field}.currency_code", "must be a supported ISO 4217 code, e.g. CNY")
        return None
    if positive and message.minor_units <= 0:
        violations.add(f"{field}.minor_units", "must be positive")
        return None
    return Money(currency, message.minor_units)


def valid_id(value: str, max_length: int = 64) -> bool:
    """The same rule as check_id, as a fast yes/no for hot paths."""
    return 0 < len(value) <= max_length and _ID_RE.match(value) is not None


def check_id(
    value: str, field: str, violations: Violations, *, max_length: int = 64, required: bool = True
) -> str:
    """An identifier field: letters, digits and . _ : - only."""
    if not value:
        if required:
            violations.add(field, "required")
        return value
    if len(value) > max_length:
        violations.add(field, f"at most {max_length} characters")
    elif not _ID_RE.match(value):
        violations.add(field, "only letters, digits, '.', '_', ':' and '-'")
    return value


def timestamp(value: datetime | None) -> Timestamp:
    stamp = Timestamp()
    if value is not None:
        stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def date_to_proto(value: date | None) -> date_pb2.Date:
    if value is None:
        return date_pb2.Date()
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def date_from_proto(message: date_pb2.Date, field: str, violations: Violations) -> date | None:
    try:
        return date(message.year, message.month, message.day)
    except ValueError:
        violations.add(field, "must be a full calendar date")
        return None


def timestamp_from_proto(message: Timestamp, field: str, violations: Violations) -> datetime | None:
    """The instant, or a violation when its seconds or nanos are outside what RFC 3339 allows."""
    try:
        return message.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        violations.add(field, "must be a time between years 1 and 9999")
        return None
