"""Statement files are read as streams: a line is yielded long before the file is read, and
reading a large file holds no more than an entry of it."""

from __future__ import annotations

import io
import itertools
import tracemalloc
from collections.abc import Callable

import pytest

from recon.adapters.statements import open_reader
from recon.domain.statement_totals import Tally
from recon.domain.statements import StatementFormat, StatementLine
from tests.unit.test_recon_statement_banks import BANKSIM, entry, tx
from tests.unit.test_recon_statement_unionpay import zm_line
from tests.unit.test_recon_statement_wechat import ALL, FUNDFLOW_HEADER, PAYMENT, row


class Produced(io.RawIOBase):
    """A file made as it is read, from a header, rows numbered from 1 and a tail; counts what
    it hands out."""

    def __init__(self, head: bytes, row: Callable[[int], bytes], rows: int, tail: bytes) -> None:
        self._parts = itertools.chain([head], (row(n) for n in range(1, rows + 1)), [tail])
        self._pending = b""
        self.handed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._parts, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.handed += size
        return size


def _wechat(n: int) -> bytes:
    return (row({**PAYMENT, "商户订单号": f"pay_{n}"}) + "\n").encode()


def _fundflow(n: int) -> bytes:
    cells = f"`2026-11-22 09:00:00,`42{n},`F{n},`交易,`交易,`收入,`1.00,`{n}.00,`api,`,`pay_{n}"
    return f"{cells}\n".encode()


def _camt(n: int) -> bytes:
    return (entry("1.00", "CRDT", tx("1.00", f"pay_{n}")) + "\n").encode()


CAMT_HEAD = (
    b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n'
    b"<BkToCstmrStmt><Stmt><Id>S1</Id>\n"
)
SOURCES: dict[StatementFormat, tuple[bytes, Callable[[int], bytes], bytes]] = {
    StatementFormat.WECHAT: (f"{ALL}\n".encode(), _wechat, b""),
    StatementFormat.WECHAT_FUNDFLOW: (f"{FUNDFLOW_HEADER}\n".encode(), _fundflow, b""),
    StatementFormat.CAMT053: (CAMT_HEAD, _camt, b"</Stmt></BkToCstmrStmt></Document>\n"),
    StatementFormat.BANKSIM: (
        "\n".join(BANKSIM.splitlines()[:2]).encode() + b"\n",
        lambda n: f"T{n},P{n},2026-11-22 09:15:00,1.00,CNY,0.01,SUCCESS\n".encode(),
        b"",
    ),
    StatementFormat.UNIONPAY_ZM: (b"\r\n", lambda n: zm_line(f"pay_{n}") + b"\r\n", b""),
    StatementFormat.CSV: (
        b"channel_transaction_id,order_id,amount\n",
        lambda n: f"C{n},pay_{n},1.00\n".encode(),
        b"",
    ),
}


@pytest.mark.parametrize("statement_format", list(SOURCES), ids=lambda f: f.value)
def test_the_first_line_comes_before_the_file_is_read(statement_format: StatementFormat) -> None:
    head, make_row, tail = SOURCES[statement_format]
    source = Produced(head, make_row, 1_000_000, tail)  # some hundreds of MB, never made

    first = next(iter(open_reader(statement_format, io.BufferedReader(source))))

    assert isinstance(first, StatementLine)
    assert first.line_no >= 2
    assert source.handed < 64 * 1024


@pytest.mark.parametrize(
    "statement_format",
    [StatementFormat.WECHAT, StatementFormat.CAMT053, StatementFormat.UNIONPAY_ZM],
    ids=lambda f: f.value,
)
def test_reading_a_large_file_holds_no_more_than_a_line_of_it(
    statement_format: StatementFormat,
) -> None:
    head, make_row, tail = SOURCES[statement_format]
    rows = 10_000
    source = Produced(head, make_row, rows, tail)
    tally = Tally()

    tracemalloc.start()
    try:
        reader = open_reader(statement_format, io.BufferedReader(source))
        lines = sum(1 for _ in tally.count(reader))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert lines == rows
    assert source.handed > 2_000_000  # the file was some megabytes...
    assert peak < 1_000_000  # ...of which well under one was ever held
