"""Identity's domain errors; messages never carry PII."""

from __future__ import annotations

from paysuite.errors import AlreadyExists, NotFound


class UserNotFound(NotFound):
    reason = "USER_NOT_FOUND"


class UserExists(AlreadyExists):
    reason = "USER_EXISTS"


class IdNumberRegistered(AlreadyExists):
    reason = "ID_NUMBER_ALREADY_REGISTERED"


class RequestIdReused(AlreadyExists):
    reason = "REQUEST_ID_REUSED"
