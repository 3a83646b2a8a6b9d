"""payctl recon commands: import a channel's statement file."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer

from payctl.common import JsonOption, run
from payctl.ledger_commands import format_date, format_units, parse_date
from payctl.output import emit
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc

recon_app = typer.Typer(help="Reconciliation: channel statement files.", no_args_is_help=True)

ReconOption = Annotated[str, typer.Option(envvar="RECON_ADDR", help="recon host:port")]

# Bytes per message of an upload: well under the servers' message limit.
CHUNK_BYTES = 1024 * 1024


class Format(enum.StrEnum):
    WECHAT = "wechat"
    WECHAT_FUNDFLOW = "wechat-fundflow"
    ALIPAY = "alipay"
    CAMT053 = "camt053"
    CSV = "csv"
    BANKSIM = "banksim"
    MT940 = "mt940"


FORMATS = {
    Format.WECHAT: rpb.STATEMENT_FORMAT_WECHAT,
    Format.WECHAT_FUNDFLOW: rpb.STATEMENT_FORMAT_WECHAT_FUNDFLOW,
    Format.ALIPAY: rpb.STATEMENT_FORMAT_ALIPAY,
    Format.CAMT053: rpb.STATEMENT_FORMAT_CAMT053,
    Format.CSV: rpb.STATEMENT_FORMAT_CSV,
    Format.BANKSIM: rpb.STATEMENT_FORMAT_BANKSIM,
    Format.MT940: rpb.STATEMENT_FORMAT_MT940,
}
FORMAT_NAMES = {number: name.value for name, number in FORMATS.items()}
# Statements of an account (a bank's, the bank simulator's, a wallet's fund flow): their
# figures include credits and debits, and whether the balances they state close.
ACCOUNT_STATEMENTS = {
    rpb.STATEMENT_FORMAT_CAMT053,
    rpb.STATEMENT_FORMAT_WECHAT_FUNDFLOW,
    rpb.STATEMENT_FORMAT_BANKSIM,
    rpb.STATEMENT_FORMAT_MT940,
}
_SHOWN_REJECTIONS = 20


def _mapping(
    columns: list[str], delimiter: str, encoding: str, currency: str, time_zone: str
) -> rpb.CsvColumnMapping:
    pairs = {}
    for item in columns:
        field, sep, header = item.partition("=")
        if not sep or not field:
            raise typer.BadParameter(f"{item!r}: expected FIELD=HEADER", param_hint="--map")
        pairs[field.strip()] = header.strip()
    return rpb.CsvColumnMapping(
        columns=pairs,
        delimiter=delimiter,
        encoding=encoding,
        currency_code=currency.upper(),
        time_zone=time_zone,
    )


def _totals(message: rpb.StatementTotals) -> dict[str, Any]:
    return {
        "currency": message.currency_code,
        "payments": message.payments,
        "refunds": message.refunds,
        "payment_minor_units": message.payment_minor_units,
        "refund_minor_units": message.refund_minor_units,
        "fee_net": message.fee_net or "0",
        "credit_minor_units": message.credit_minor_units,
        "debit_minor_units": message.debit_minor_units,
    }


def import_summary(answer: rpb.ImportStatementResponse) -> dict[str, Any]:
    """The import as one flat object: a statement in one currency has its figures at the top;
    one in several has them per currency only (beside counts for all)."""
    imported = answer.statement_import
    per_currency = [_totals(t) for t in imported.totals]
    data: dict[str, Any] = {
        "import_id": imported.import_id,
        "channel": imported.channel,
        "format": FORMAT_NAMES.get(imported.format, ""),
        "statement_date": format_date(imported.statement_date),
        "file_sha256": imported.file_sha256,
        "file_bytes": imported.file_bytes,
        "replayed": answer.replayed,
        "replaces_import_id": imported.replaces_import_id,
        "rows": imported.rows,
    }
    if len(per_currency) <= 1:
        data |= per_currency[0] if per_currency else _totals(rpb.StatementTotals())
    else:
        data["payments"] = sum(t["payments"] for t in per_currency)
        data["refunds"] = sum(t["refunds"] for t in per_currency)
        data["by_currency"] = per_currency
    if imported.format not in ACCOUNT_STATEMENTS:
        for key in ("credit_minor_units", "debit_minor_units"):
            data.pop(key, None)
    data["rejected"] = [{"line": r.line, "reason": r.reason} for r in imported.rejected_lines]
    data["rejected_count"] = imported.rejected_count
    data["control_totals_consistent"] = imported.control_totals_consistent
    if imported.format in ACCOUNT_STATEMENTS:
        data["balances_consistent"] = (
            imported.balances_consistent if imported.HasField("balances_consistent") else None
        )
    data["breaks"] = list(imported.breaks)
    return data


def describe_import(data: dict[str, Any]) -> str:
    head = f"{data['import_id']} {data['channel']} {data['format']} {data['statement_date']}"
    if data["replayed"]:
        head += " (imported before: unchanged)"
    elif data["replaces_import_id"]:
        head += f" (replaces {data['replaces_import_id']})"
    lines = [head, f"  {data['rows']} lines, {data['rejected_count']} rejected"]
    for totals in data.get("by_currency") or ([data] if data.get("currency") else []):
        currency = totals["currency"]
        lines.append(
            f"  {currency}: {totals['payments']} payments "
            f"{format_units(totals['payment_minor_units'], currency)}, {totals['refunds']} "
            f"refunds {format_units(totals['refund_minor_units'], currency)}, "
            f"fees net {totals['fee_net']}"
        )
    lines.append(
        "  control totals "
        + ("agree" if data["control_totals_consistent"] else "DISAGREE")
        + (
            ""
            if data.get("balances_consistent") is None
            else ", balances " + ("close" if data["balances_consistent"] else "DO NOT CLOSE")
        )
    )
    lines += [f"  break: {text}" for text in data["breaks"]]
    lines += [f"  line {r['line']}: {r['reason']}" for r in data["rejected"][:_SHOWN_REJECTIONS]]
    return "\n".join(lines)


@recon_app.command("import")
def import_statement(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="statement file")],
    channel: Annotated[str, typer.Option(help="channel the statement is from")],
    statement_format: Annotated[Format, typer.Option("--format", help="layout of the file")],
    day: Annotated[
        str | None, typer.Option("--date", help="statement date YYYY-MM-DD (default: yesterday)")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--map", help="csv: FIELD=HEADER (e.g. order_id=订单号), repeatable"),
    ] = None,
    delimiter: Annotated[str, typer.Option(help="csv: field separator")] = "",
    encoding: Annotated[str, typer.Option(help="csv: text encoding, e.g. gb18030")] = "",
    currency: Annotated[str, typer.Option(help="csv: currency of lines without one")] = "",
    time_zone: Annotated[str, typer.Option(help="csv: zone of times without an offset")] = "",
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Uploads a channel's statement file: lines imported, totals, rejected lines, breaks."""
    statement_date = parse_date(day or (date.today() - timedelta(days=1)).isoformat(), "--date")
    upload = rpb.StatementUpload(
        channel=channel, format=FORMATS[statement_format], statement_date=statement_date
    )
    if statement_format is Format.CSV:
        upload.csv_mapping.CopyFrom(
            _mapping(column or [], delimiter, encoding, currency, time_zone)
        )

    async def messages() -> AsyncIterator[rpb.ImportStatementRequest]:
        yield rpb.ImportStatementRequest(upload=upload)
        with file.open("rb") as content:
            while chunk := content.read(CHUNK_BYTES):
                yield rpb.ImportStatementRequest(chunk=chunk)

    async def call() -> rpb.ImportStatementResponse:
        async with grpc.aio.insecure_channel(recon) as grpc_channel:
            stub = rpb_grpc.ReconServiceStub(grpc_channel)
            return await stub.ImportStatement(messages(), timeout=3600)

    data = import_summary(run(call))
    emit(data, as_json, describe_import(data))
