"""Verification attempts: what was checked, by whom, with what outcome; the audit trail."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Method(enum.Enum):
    FOUR_ELEMENTS = "four_elements"
    FACE_TO_FACE = "face_to_face"
    THREE_ELEMENTS = "three_elements"
    NAME_ID = "name_id"

    @property
    def external(self) -> bool:
        """Checked by an outside provider (a bank, the citizen register), not in person."""
        return self is not Method.FACE_TO_FACE


class Outcome(enum.Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NO_RECORD = "no_record"
    CARD_STATE = "card_state"
    CANNOT_VERIFY = "cannot_verify"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt_id: str
    user_id: str
    method: Method
    provider: str
    outcome: Outcome
    created_at: datetime
    mismatched: tuple[str, ...] = ()
    masked_card: str = ""
    reference: str = ""
    card_id: str = ""


@dataclass(frozen=True, slots=True)
class FourElements:
    """Plain PII on its way to a verifier; never stored, logged or put in an error."""

    name: str
    id_number: str
    card_number: str
    phone: str

    def __repr__(self) -> str:
        return "FourElements(<redacted>)"


@dataclass(frozen=True, slots=True)
class CardCheck:
    """A verifier's answer."""

    outcome: Outcome
    provider: str
    mismatched: tuple[str, ...] = ()
    reference: str = ""
    bank_code: str = ""
    agreement_no: str = ""
    card_state: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class CardVerifier(Protocol):
    async def verify(
        self,
        request_id: str,
        elements: FourElements,
        sign: bool,
        method: Method = Method.FOUR_ELEMENTS,
    ) -> CardCheck:
        """Verifies the elements the method names (blank ones are not sent); signs a quick-pay
        agreement when asked and four elements matched."""
        ...
