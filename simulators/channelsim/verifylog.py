"""Verifications the bank answered, by req_no, and an audit trail of every call it saw."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channelsim.protocol import VerifyRequest

_AUDIT_SIZE = 10_000


@dataclass(frozen=True)
class Answered:
    """A stored answer and a keyed digest of the request body it answered."""

    digest: str
    answer: dict[str, Any]


def request_digest(secret: bytes, request: VerifyRequest) -> str:
    """A keyed digest of the whole request: repeats match, element values are not kept."""
    body = json.dumps(request.model_dump(), sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(secret, b"verify4:" + body, hashlib.sha256).hexdigest()


def card_key(secret: bytes, card_no: str) -> str:
    """A keyed digest standing for a card number in rate limits."""
    return hmac.new(secret, f"card:{card_no}".encode(), hashlib.sha256).hexdigest()


class VerificationLog:
    """Answers by req_no (for idempotent repeats) and (req_no, result) for each call seen."""

    def __init__(self) -> None:
        self._by_req_no: dict[str, Answered] = {}
        self._verify_nos: set[str] = set()
        self._audit: deque[tuple[str, str]] = deque(maxlen=_AUDIT_SIZE)

    def get(self, req_no: str) -> Answered | None:
        return self._by_req_no.get(req_no)

    def remember(self, req_no: str, answered: Answered) -> None:
        self._by_req_no[req_no] = answered

    def saw(self, req_no: str, result: str) -> None:
        """Adds one call, answered or refused, to the audit trail."""
        self._audit.append((req_no, result))

    def audit(self) -> list[dict[str, str]]:
        return [{"req_no": req_no, "result": result} for req_no, result in self._audit]

    def new_verify_no(self, moment: datetime, digits: Callable[[int], str]) -> str:
        """A bank reference "V" + YYYYMMDD + 12 digits not given out before."""
        while True:
            verify_no = f"V{moment.strftime('%Y%m%d')}{digits(12)}"
            if verify_no not in self._verify_nos:
                self._verify_nos.add(verify_no)
                return verify_no
