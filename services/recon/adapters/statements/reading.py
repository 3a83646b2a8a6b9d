"""What every importer shares: numbered lines off a byte stream, cells, headers, local times."""

from __future__ import annotations

import csv
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from recon.domain.statement_totals import Check
from recon.domain.statements import MalformedLine, Rejection, StatementLine

SHANGHAI = ZoneInfo("Asia/Shanghai")
_BOM = b"\xef\xbb\xbf"
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M")

Item = StatementLine | Rejection


class Reader(ABC):
    """An importer over one file: iterating yields its lines and rejected lines, one at a time;
    once iterated, `checks` holds what the file states about itself against its lines."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    @abstractmethod
    def __iter__(self) -> Iterator[Item]: ...


def byte_lines(raw: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered lines (from 1) without their line ends; a UTF-8 byte order mark dropped.

    Splitting bytes on LF is safe for UTF-8 and GB18030 alike: neither uses the byte inside a
    multi-byte character.
    """
    for number, line in enumerate(raw, start=1):
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        yield number, line.rstrip(b"\r\n")


def decode(line: bytes, encoding: str) -> str:
    try:
        return line.decode(encoding)
    except UnicodeDecodeError:
        raise MalformedLine(f"not {encoding} text") from None


def split(text: str, separator: str) -> list[str]:
    """A line's cells; quoted cells (with separators or quotes inside) as CSV reads them."""
    if '"' in text:
        return next(csv.reader([text], delimiter=separator))
    return text.split(separator)


def header_name(cell: str) -> str:
    """A column name as the layouts spell it: full-width punctuation made ASCII (NFKC), spaces,
    tabs and the Excel-guarding backtick gone."""
    return unicodedata.normalize("NFKC", cell).strip().lstrip("`").strip()


def value(cell: str) -> str:
    """A cell's value: a leading backtick (WeChat) and surrounding tabs and spaces (Alipay
    writes a tab after each id) removed."""
    return cell.strip().removeprefix("`").strip()


def local_time(text: str, zone: tzinfo = SHANGHAI) -> datetime:
    """A wall-clock time as the Chinese channels write it, in their zone."""
    cleaned = text.strip()
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        for layout in _TIME_FORMATS:
            try:
                moment = datetime.strptime(cleaned, layout)
                break
            except ValueError:
                continue
        else:
            raise MalformedLine(f"time {text!r} is not a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def columns(names: str) -> tuple[str, ...]:
    """A layout's columns from their comma-separated names."""
    return tuple(names.split(","))


def unknown_header(cells: list[str], known: str) -> str:
    """The reason an unknown header is refused: what it starts with, what was expected."""
    shown = ",".join(cells[:6]) + (",..." if len(cells) > 6 else "")
    return f"unknown header {shown!r} ({len(cells)} columns): not {known}"
