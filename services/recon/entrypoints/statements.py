"""ImportStatement's messages: the upload validated into a command, the import back to proto."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paysuite.errors import Violations
from paysuite.money import CurrencyError, check_currency
from paysuite.recon.v1 import recon_service_pb2 as pb
from paysuite.runtime.enums import short_name, value_of
from paysuite.runtime.protoconv import check_id, date_from_proto, date_to_proto, timestamp
from recon.domain.statement_totals import StatementImport
from recon.domain.statements import ColumnMapping, StatementFormat, plain
from recon.service_layer.imports import ImportStatement, Upload


class Spool(Upload, Protocol):
    """Where an upload's bytes go as they arrive (recon.adapters.uploads), until closed."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


def _mapping(message: pb.CsvColumnMapping, violations: Violations) -> ColumnMapping:
    field = "upload.csv_mapping"
    defaults = ColumnMapping()
    for name, header in message.columns.items():
        if name not in ColumnMapping.FIELDS:
            violations.add(
                f"{field}.columns[{name}]", f"not one of {', '.join(ColumnMapping.FIELDS)}"
            )
        elif not header.strip():
            violations.add(f"{field}.columns[{name}]", "names no column")
    if message.delimiter and len(message.delimiter) != 1:
        violations.add(f"{field}.delimiter", "one character")
    try:
        codecs.lookup(message.encoding or defaults.encoding)
    except LookupError:
        violations.add(f"{field}.encoding", "not a known text encoding")
    try:
        check_currency(message.currency_code or defaults.currency)
    except CurrencyError:
        violations.add(f"{field}.currency_code", "must be a supported ISO 4217 code, e.g. CNY")
    try:
        ZoneInfo(message.time_zone or defaults.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        violations.add(f"{field}.time_zone", "not an IANA time zone, e.g. Asia/Shanghai")
    return ColumnMapping(
        columns=dict(message.columns),
        delimiter=message.delimiter or defaults.delimiter,
        encoding=message.encoding or defaults.encoding,
        currency=message.currency_code or defaults.currency,
        refund_values=tuple(message.refund_values) or defaults.refund_values,
        time_zone=message.time_zone or defaults.time_zone,
    )


def import_command(request: pb.ImportStatementRequest) -> ImportStatement:
    """The first message of the call, validated; InvalidArgument names what is wrong."""
    violations = Violations()
    if request.WhichOneof("part") != "upload":
        violations.add("upload", "required: the first message says what the file is")
        violations.raise_if_any()
    upload = request.upload
    check_id(upload.channel, "upload.channel", violations, max_length=32)
    day = date_from_proto(upload.statement_date, "upload.statement_date", violations)
    statement_format = None
    if upload.format == pb.STATEMENT_FORMAT_UNSPECIFIED:
        violations.add("upload.format", "required")
    else:
        statement_format = StatementFormat[short_name(pb.StatementFormat, upload.format)]
    mapping = None
    if upload.HasField("csv_mapping"):
        if statement_format is not StatementFormat.CSV:
            violations.add("upload.csv_mapping", "only for STATEMENT_FORMAT_CSV")
        mapping = _mapping(upload.csv_mapping, violations)
    violations.raise_if_any()
    assert day is not None and statement_format is not None
    return ImportStatement(upload.channel, statement_format, day, mapping)


async def receive(
    requests: AsyncIterator[pb.ImportStatementRequest], spool: Spool
) -> ImportStatement:
    """Reads the call: the upload message, then every chunk into the spool."""
    command = None
    async for request in requests:
        if command is None:
            command = import_command(request)
        elif request.WhichOneof("part") == "chunk":
            spool.write(request.chunk)
        else:
            violations = Violations()
            violations.add("upload", "only in the first message; the rest carry chunks")
            violations.raise_if_any()
    if command is None:
        return import_command(pb.ImportStatementRequest())
    return command


def import_to_proto(imported: StatementImport) -> pb.StatementImport:
    summary = imported.summary
    message = pb.StatementImport(
        import_id=imported.import_id,
        channel=imported.channel,
        format=value_of(pb.StatementFormat, imported.format.name),
        statement_date=date_to_proto(imported.statement_date),
        file_sha256=imported.file_sha256,
        file_bytes=imported.file_bytes,
        rows=summary.rows,
        totals=[
            pb.StatementTotals(
                currency_code=t.currency,
                payments=t.payments,
                refunds=t.refunds,
                payment_minor_units=t.payment_minor_units,
                refund_minor_units=t.refund_minor_units,
                fee_net=plain(t.fee_net),
                credit_minor_units=t.credit_minor_units,
                debit_minor_units=t.debit_minor_units,
            )
            for t in summary.totals
        ],
        rejected_count=summary.rejected,
        rejected_lines=[pb.RejectedLine(line=r.line, reason=r.reason) for r in summary.rejections],
        control_totals_consistent=summary.control_totals_consistent,
        breaks=list(summary.breaks),
        replaces_import_id=imported.replaces,
        create_time=timestamp(imported.created_at),
    )
    if summary.balances_consistent is not None:
        message.balances_consistent = summary.balances_consistent
    return message
