"""The bank's four-element verdict: compare a request with its records of the card."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channelsim import cards
from channelsim.cardholders import CardholderRegistry
from channelsim.protocol import VerifyRequest

MATCH = "MATCH"
MISMATCH = "MISMATCH"
NO_RECORD = "NO_RECORD"
CARD_STATE = "CARD_STATE"
CANNOT_VERIFY = "CANNOT_VERIFY"

NAME = "NAME"
ID_NO = "ID_NO"
MOBILE = "MOBILE"


@dataclass(frozen=True)
class Verdict:
    """What the bank answers about four elements; no element values in it."""

    result: str
    mismatch: tuple[str, ...] = ()
    card_state: str = ""
    bank_code: str = ""
    agreement_no: str = ""

    def answer(self, verify_no: str) -> dict[str, Any]:
        """The 200 answer body of /api/auth/verify4."""
        return {
            "code": "SUCCESS",
            "result": self.result,
            "mismatch": list(self.mismatch),
            "card_state": self.card_state,
            "verify_no": verify_no,
            "bank_code": self.bank_code,
            "agreement_no": self.agreement_no,
        }


def decide(request: VerifyRequest, registry: CardholderRegistry, secret: bytes) -> Verdict:
    """Reserved test numbers first, then the registered cardholder, element by element."""
    card_no = request.card_no
    if not cards.issued(card_no):
        return Verdict(NO_RECORD)
    holder = registry.get(card_no)
    bank_code = holder.bank_code if holder is not None else ""
    state = cards.card_state(card_no)
    if state:
        return Verdict(CARD_STATE, card_state=state, bank_code=bank_code)
    if cards.cannot_verify(card_no):
        return Verdict(CANNOT_VERIFY, bank_code=bank_code)
    if holder is None:
        return Verdict(NO_RECORD)
    mismatch = tuple(
        element
        for element, differs in (
            (NAME, request.name != holder.name),
            (ID_NO, request.id_no != holder.id_no),
            # Three-element requests leave the mobile out: not compared.
            (MOBILE, request.mobile is not None and request.mobile != holder.mobile),
        )
        if differs
    )
    if mismatch:
        return Verdict(MISMATCH, mismatch=mismatch, bank_code=bank_code)
    signing = request.sign and request.mobile is not None
    agreement = cards.agreement_no(secret, card_no) if signing else ""
    return Verdict(MATCH, bank_code=bank_code, agreement_no=agreement)


def check_identity(name: str, id_no: str, registry: CardholderRegistry) -> Verdict:
    """The citizen register's answer: the ID number is known, and the name is its holder's."""
    names = registry.names_of(id_no)
    if not names:
        return Verdict(NO_RECORD)
    if name not in names:
        return Verdict(MISMATCH, mismatch=(NAME,))
    return Verdict(MATCH)
