"""The bank's records of cardholders, registered by tests; kept in memory only (PII)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cardholder:
    """Who holds a card, as the bank knows it; PII stays out of repr."""

    name: str = field(repr=False)
    id_no: str = field(repr=False)
    mobile: str = field(repr=False)
    bank_code: str


class CardholderRegistry:
    """Cardholders by card number; a new registration of a card replaces the old one."""

    def __init__(self) -> None:
        self._by_card: dict[str, Cardholder] = {}

    def __len__(self) -> int:
        return len(self._by_card)

    def register(self, card_no: str, holder: Cardholder) -> None:
        self._by_card[card_no] = holder

    def get(self, card_no: str) -> Cardholder | None:
        return self._by_card.get(card_no)

    def names_of(self, id_no: str) -> set[str]:
        """Names registered against an ID number: the register the name+ID check reads."""
        return {h.name for h in self._by_card.values() if h.id_no == id_no}
