"""The statement importers, one per published layout, chosen by the format a file is sent as.

Each reads the file as a stream (a line, or an XML entry, at a time) and tells the layout by its
header before reading a row: a file of any other layout is refused, naming the line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from recon.adapters.statements.alipay import AlipayBill
from recon.adapters.statements.camt053 import Camt053
from recon.adapters.statements.csv_files import BanksimCsv, MappedCsv
from recon.adapters.statements.mt940 import Mt940
from recon.adapters.statements.reading import Reader
from recon.adapters.statements.unionpay import UnionPayZm
from recon.adapters.statements.wechat import FundFlowBill, TradeBill
from recon.domain.statements import ColumnMapping, StatementFormat

_READERS: dict[StatementFormat, Callable[[IO[bytes]], Reader]] = {
    StatementFormat.WECHAT: TradeBill,
    StatementFormat.WECHAT_FUNDFLOW: FundFlowBill,
    StatementFormat.ALIPAY: AlipayBill,
    StatementFormat.CAMT053: Camt053,
    StatementFormat.MT940: Mt940,
    StatementFormat.BANKSIM: BanksimCsv,
    StatementFormat.UNIONPAY_ZM: UnionPayZm,
}


def open_reader(
    statement_format: StatementFormat, raw: IO[bytes], mapping: ColumnMapping | None = None
) -> Reader:
    """The importer of a format over a seekable binary file (a generic CSV with its mapping)."""
    if statement_format is StatementFormat.CSV:
        return MappedCsv(raw, mapping or ColumnMapping())
    return _READERS[statement_format](raw)
