"""Reading statement files in tests: the shared fixtures and files made up for a case."""

from __future__ import annotations

import io
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from recon.adapters.statements import open_reader
from recon.domain.statement_totals import StatementSummary, Tally
from recon.domain.statements import ColumnMapping, StatementFormat, StatementLine, plain

# Real statement files, beside the repository (never copied into it).
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "statements"


def fixture(name: str) -> bytes:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"shared statement fixture {path} is not on this machine")
    return path.read_bytes()


@dataclass
class Read:
    lines: list[StatementLine]
    summary: StatementSummary

    @property
    def totals(self) -> dict[str, object]:
        """The only currency's totals, as a dict (fee_net as its string)."""
        (totals,) = self.summary.totals
        figures = {**asdict(totals), "fee_net": plain(totals.fee_net)}
        if totals.closing_minor_units is None:  # a bill, not an account statement
            del figures["closing_minor_units"]
        return figures

    @property
    def rejected(self) -> list[tuple[int, str]]:
        return [(r.line, r.reason) for r in self.summary.rejections]


def read(
    statement_format: StatementFormat, content: bytes, mapping: ColumnMapping | None = None
) -> Read:
    """Imports content as the service does, without the database."""
    reader = open_reader(statement_format, io.BytesIO(content), mapping)
    tally = Tally()
    lines = list(tally.count(reader))
    return Read(lines, tally.summary(reader.checks))


def zipped(entries: dict[str, bytes], *, name_encoding: str = "gb18030") -> bytes:
    """A zip whose entry names are written in name_encoding with no UTF-8 flag, as Alipay's
    are (Python's zipfile writes only ASCII or flagged UTF-8 names: placeholders of the same
    length are written, then swapped for the encoded names)."""
    buffer = io.BytesIO()
    swaps = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, content) in enumerate(entries.items()):
            encoded = name.encode(name_encoding)
            placeholder = f"{index:04d}".ljust(len(encoded), "_").encode()
            swaps.append((placeholder, encoded))
            archive.writestr(placeholder.decode(), content)
    data = buffer.getvalue()
    for placeholder, encoded in swaps:
        assert data.count(placeholder) == 2  # the local header and the central directory
        data = data.replace(placeholder, encoded)
    return data
