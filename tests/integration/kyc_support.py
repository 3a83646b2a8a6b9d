"""Test people and cards for identity tests: valid, fake, unique per call."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import aiohttp

from identity.domain.pii import id_number_valid, luhn_valid

BANK_BINS = {
    "ICBC": "622202",
    "CMB": "622588",
    "CCB": "621700",
    "ABC": "622848",
    "BOC": "621661",
    "PSBC": "621799",
}


def fresh_id_number() -> str:
    while True:
        body = f"110105198{secrets.randbelow(10)}0{secrets.randbelow(9) + 1}1{secrets.randbelow(9)}"
        body += f"{secrets.randbelow(1000):03d}"
        for check in "0123456789X":
            if id_number_valid(body + check):
                return body + check


def fresh_phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


def fresh_card(bank: str = "ICBC") -> str:
    while True:
        body = BANK_BINS[bank] + f"{secrets.randbelow(10**12):012d}"
        for check in "0123456789":
            card = body + check
            if luhn_valid(card) and card[-4:] not in ("0001", "0002", "0003", "0000"):
                return card


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    phone: str

    def __repr__(self) -> str:
        return "Person(<test pii>)"


def fresh_person() -> Person:
    return Person("王小明", fresh_id_number(), fresh_phone())


async def bank_knows(bank_url: str, person: Person, card: str, bank: str) -> None:
    """Registers the cardholder at the simulated bank, as the bank's own records."""
    holder = {
        "card_no": card,
        "name": person.name,
        "id_no": person.id_number,
        "mobile": person.phone,
        "bank_code": bank,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{bank_url}/_admin/cards", json=holder) as response,
    ):
        assert response.status in (200, 201)
