"""The card BIN table: issuer prefixes from the shipped CSV, updated by UnionPay increments."""

from __future__ import annotations

import csv
import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

DEFAULT_BIN_CSV = Path(__file__).resolve().parent.parent / "data" / "bins.csv"
COLUMNS = ("prefix", "bank_code", "bank_name", "card_type")
DELETED = "DELETED"
MIN_PREFIX, MAX_PREFIX = 6, 10

_PREFIX_RE = re.compile(rf"[0-9]{{{MIN_PREFIX},{MAX_PREFIX}}}")
_META_RE = re.compile(r"\b(version|date)=(\S+)")


class CardType(enum.StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"
    PREPAID = "PREPAID"


class BinTableError(ValueError):
    """A BIN file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class BinEntry:
    prefix: str
    bank_code: str
    bank_name: str
    card_type: CardType


@dataclass(frozen=True, slots=True)
class _BinFile:
    version: str | None
    published: date | None
    rows: tuple[tuple[str, BinEntry | None], ...]  # None: the prefix is deleted


class BinTable:
    """Issuer prefixes of 6 to 10 digits; a card number matches its longest listed prefix."""

    __slots__ = ("_entries", "published", "version")

    def __init__(
        self,
        entries: Iterable[BinEntry] = (),
        *,
        version: str | None = None,
        published: date | None = None,
    ) -> None:
        by_prefix: dict[str, BinEntry] = {}
        for entry in entries:
            if not _PREFIX_RE.fullmatch(entry.prefix):
                raise BinTableError(f"prefix {entry.prefix!r} is not 6 to 10 digits")
            if entry.prefix in by_prefix:
                raise BinTableError(f"prefix {entry.prefix} is listed twice")
            by_prefix[entry.prefix] = entry
        self._entries: Mapping[str, BinEntry] = MappingProxyType(by_prefix)
        self.version = version
        self.published = published

    @classmethod
    def from_csv(cls, path: Path) -> BinTable:
        """A full table; every row must name a bank and a card type."""
        parsed = _read(path, allow_deleted=False)
        return cls(
            (e for _, e in parsed.rows if e is not None),
            version=parsed.version,
            published=parsed.published,
        )

    @classmethod
    def default(cls) -> BinTable:
        """The table the project ships."""
        return cls.from_csv(DEFAULT_BIN_CSV)

    def merged(self, increment: Path) -> BinTable:
        """A new table with an incremental file applied: rows add or replace, DELETED removes.

        An increment dated before this table is refused: it would undo newer changes.
        """
        parsed = _read(increment, allow_deleted=True)
        if parsed.published and self.published and parsed.published < self.published:
            raise BinTableError(
                f"{increment.name}: dated {parsed.published}, older than the table "
                f"({self.published})"
            )
        entries = dict(self._entries)
        for prefix, entry in parsed.rows:
            if entry is None:
                entries.pop(prefix, None)
            else:
                entries[prefix] = entry
        return BinTable(
            entries.values(),
            version=parsed.version or self.version,
            published=parsed.published or self.published,
        )

    def lookup(self, card_number: str) -> BinEntry | None:
        """The entry with the longest prefix of the card number, or None."""
        for length in range(min(MAX_PREFIX, len(card_number)), MIN_PREFIX - 1, -1):
            entry = self._entries.get(card_number[:length])
            if entry is not None:
                return entry
        return None

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[BinEntry]:
        return iter(self._entries.values())


def _read(path: Path, *, allow_deleted: bool) -> _BinFile:
    version: str | None = None
    published: date | None = None
    header_seen = False
    rows: list[tuple[str, BinEntry | None]] = []
    seen: set[str] = set()
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for number, line in enumerate(lines, start=1):
        where = f"{path.name} line {number}"
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            for key, value in _META_RE.findall(line):
                if key == "version":
                    version = value
                else:
                    try:
                        published = date.fromisoformat(value)
                    except ValueError:
                        raise BinTableError(f"{where}: date is not YYYY-MM-DD") from None
            continue
        fields = tuple(f.strip() for f in next(csv.reader([line])))
        if not header_seen:
            if fields != COLUMNS:
                raise BinTableError(f"{where}: expected the header {','.join(COLUMNS)}")
            header_seen = True
            continue
        if len(fields) != len(COLUMNS):
            raise BinTableError(f"{where}: expected {len(COLUMNS)} fields")
        prefix, bank_code, bank_name, card_type = fields
        if not _PREFIX_RE.fullmatch(prefix):
            raise BinTableError(f"{where}: prefix is not 6 to 10 digits")
        if prefix in seen:
            raise BinTableError(f"{where}: prefix {prefix} is listed twice")
        seen.add(prefix)
        if card_type == DELETED:
            if not allow_deleted:
                raise BinTableError(f"{where}: DELETED rows belong in incremental files")
            rows.append((prefix, None))
            continue
        if card_type not in CardType.__members__:
            allowed = ", ".join([*CardType.__members__, DELETED] if allow_deleted else CardType)
            raise BinTableError(f"{where}: card type {card_type!r} is not one of {allowed}")
        if not bank_code or not bank_name:
            raise BinTableError(f"{where}: bank code and name are required")
        rows.append((prefix, BinEntry(prefix, bank_code, bank_name, CardType(card_type))))
    if not header_seen:
        raise BinTableError(f"{path.name}: no header line")
    return _BinFile(version, published, tuple(rows))
