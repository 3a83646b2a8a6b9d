"""payctl recon commands: import a channel's statement file, run a reconciliation, list runs
and discrepancies (and the open ones' aging), resolve a discrepancy."""

from __future__ import annotations

import asyncio
import enum
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer

from payctl.common import JsonOption, connect, run
from payctl.ledger_commands import format_date, format_units, parse_date
from payctl.output import emit
from payctl.progress import Bar, count_bar, upload_bar
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc

recon_app = typer.Typer(
    help="Reconciliation: statement files, runs, discrepancies.", no_args_is_help=True
)

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
    UNIONPAY_ZM = "unionpay-zm"


FORMATS = {
    Format.WECHAT: rpb.STATEMENT_FORMAT_WECHAT,
    Format.WECHAT_FUNDFLOW: rpb.STATEMENT_FORMAT_WECHAT_FUNDFLOW,
    Format.ALIPAY: rpb.STATEMENT_FORMAT_ALIPAY,
    Format.CAMT053: rpb.STATEMENT_FORMAT_CAMT053,
    Format.CSV: rpb.STATEMENT_FORMAT_CSV,
    Format.BANKSIM: rpb.STATEMENT_FORMAT_BANKSIM,
    Format.MT940: rpb.STATEMENT_FORMAT_MT940,
    Format.UNIONPAY_ZM: rpb.STATEMENT_FORMAT_UNIONPAY_ZM,
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


# The per-currency figures at the top of --json: the file's own when it has one currency, null
# when it has several (no sum across currencies; by_currency has each).
_MONEY_KEYS = ("currency", "payment_minor_units", "refund_minor_units", "fee_net")
_ACCOUNT_KEYS = ("credit_minor_units", "debit_minor_units")


def import_summary(answer: rpb.ImportStatementResponse) -> dict[str, Any]:
    """The import as one flat object. Counts (rows, payments, refunds) are the file's, over
    every currency. The money figures (currency, payment_minor_units, refund_minor_units,
    fee_net; credit_minor_units and debit_minor_units of an account statement) are at the top
    when the file is in one currency (zeros and "" when it has no lines) and null when it is in
    several; by_currency always lists each currency's figures."""
    imported = answer.statement_import
    account = imported.format in ACCOUNT_STATEMENTS
    per_currency = [_totals(t) for t in imported.totals]
    if not account:
        for totals in per_currency:
            for key in _ACCOUNT_KEYS:
                del totals[key]
    data: dict[str, Any] = {
        "import_id": imported.import_id,
        "channel": imported.channel,
        "format": FORMAT_NAMES.get(imported.format, ""),
        "statement_date": format_date(imported.statement_date),
        "file_sha256": imported.file_sha256,
        "file_bytes": imported.file_bytes,
        "replayed": answer.replayed,
        "replaces_import_id": imported.replaces_import_id,
        # The day's import runs read: this file's, or a later file that replaced it.
        "current_import_id": answer.current_import_id or imported.import_id,
        "rows": imported.rows,
        "payments": sum(t["payments"] for t in per_currency),
        "refunds": sum(t["refunds"] for t in per_currency),
    }
    keys = _MONEY_KEYS + (_ACCOUNT_KEYS if account else ())
    if len(per_currency) <= 1:
        one = per_currency[0] if per_currency else _totals(rpb.StatementTotals())
        data |= {k: one[k] for k in keys}
    else:
        data |= dict.fromkeys(keys)
    data["by_currency"] = per_currency
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
    if data["replayed"] and data["current_import_id"] != data["import_id"]:
        head += f" (imported before, replaced since: {data['current_import_id']} stays current)"
    elif data["replayed"]:
        head += " (imported before: unchanged)"
    elif data["replaces_import_id"]:
        head += f" (replaces {data['replaces_import_id']})"
    lines = [head, f"  {data['rows']} lines, {data['rejected_count']} rejected"]
    for totals in data["by_currency"]:
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
    """Uploads a channel's statement file: lines imported, totals, rejected lines, breaks. A
    progress bar of the bytes sent on stderr, when stderr is a terminal.

    --json prints one object. rows, payments and refunds count the whole file. currency,
    payment_minor_units, refund_minor_units and fee_net (and credit_minor_units,
    debit_minor_units of an account statement: camt053, mt940, banksim, wechat-fundflow) are
    the file's figures when it is in one currency, and null when it is in several (there is no
    sum across currencies). by_currency always lists each currency's figures. Besides: rejected
    (line, reason), rejected_count, control_totals_consistent, breaks, balances_consistent (an
    account statement's), replayed and current_import_id (the day's import runs read).
    """
    statement_date = parse_date(day or (date.today() - timedelta(days=1)).isoformat(), "--date")
    upload = rpb.StatementUpload(
        channel=channel, format=FORMATS[statement_format], statement_date=statement_date
    )
    if statement_format is Format.CSV:
        upload.csv_mapping.CopyFrom(
            _mapping(column or [], delimiter, encoding, currency, time_zone)
        )

    async def messages(bar: Bar) -> AsyncIterator[rpb.ImportStatementRequest]:
        yield rpb.ImportStatementRequest(upload=upload)
        with file.open("rb") as content:
            while chunk := content.read(CHUNK_BYTES):
                yield rpb.ImportStatementRequest(chunk=chunk)
                # gRPC asks for the next message once this one is sent.
                bar.update(advance=len(chunk))
        bar.update(description="importing", final=True)

    async def call(bar: Bar) -> rpb.ImportStatementResponse:
        async with connect(recon) as grpc_channel:
            stub = rpb_grpc.ReconServiceStub(grpc_channel)
            return await stub.ImportStatement(messages(bar), timeout=3600)

    with upload_bar("uploading", file.stat().st_size) as bar:
        answer = run(lambda: call(bar))
    data = import_summary(answer)
    emit(data, as_json, describe_import(data))


OUTCOME_NAMES = {
    v.number: v.name.removeprefix("MATCH_OUTCOME_").lower()
    for v in rpb.MatchOutcome.DESCRIPTOR.values
    if v.number
}
ACTIONS = {
    "refund": rpb.RESOLUTION_ACTION_REFUND,
    "supplementary-order": rpb.RESOLUTION_ACTION_SUPPLEMENTARY_ORDER,
    "write-off": rpb.RESOLUTION_ACTION_WRITE_OFF,
}
ACTION_NAMES = {
    v.number: v.name.removeprefix("RESOLUTION_ACTION_").lower()
    for v in rpb.ResolutionAction.DESCRIPTOR.values
}
AGES = ((1, "0-1 days"), (7, "2-7 days"), (30, "8-30 days"))


def run_summary(run_message: rpb.ReconciliationRun) -> dict[str, Any]:
    return {
        "run_id": run_message.run_id,
        "channel": run_message.channel,
        "statement_date": format_date(run_message.statement_date),
        "state": rpb.ReconciliationRun.State.Name(run_message.state).removeprefix("STATE_").lower(),
        "phase": rpb.ReconciliationRun.Phase.Name(run_message.phase).removeprefix("PHASE_").lower(),
        "buckets_done": run_message.buckets_done,
        "buckets_total": run_message.buckets_total,
        "statement_rows": run_message.statement_rows,
        "our_records": run_message.our_records,
        "ledger_records": run_message.ledger_records,
        "carried_in": run_message.carried_in,
        "outcomes": {OUTCOME_NAMES[c.outcome]: c.count for c in run_message.outcome_counts},
        "discrepancies": run_message.discrepancies,
        "posted": run_message.posted,
        "matched_later": run_message.matched_later,
        "flagged_resolved": run_message.flagged_resolved,
        "failure": run_message.failure,
        "import_id": run_message.import_id,
    }


def describe_run(data: dict[str, Any]) -> str:
    head = f"{data['run_id']} {data['channel']} {data['statement_date']} {data['state']}"
    outcomes = ", ".join(f"{n} {name}" for name, n in data["outcomes"].items()) or "nothing"
    lines = [
        head,
        f"  bill {data['statement_rows']} lines, gateway {data['our_records']} records, "
        f"ledger {data['ledger_records']} postings, {data['carried_in']} carried in",
        f"  {outcomes}",
        f"  {data['discrepancies']} discrepancies ({data['posted']} parked now), "
        f"{data['matched_later']} matched later, {data['flagged_resolved']} flagged resolved",
    ]
    if data["failure"]:
        lines.append(f"  failed: {data['failure']}")
    return "\n".join(lines)


def _money(message: Any) -> str | None:
    return (
        format_units(message.minor_units, message.currency_code) if message.currency_code else None
    )


def discrepancy_summary(found: rpb.Discrepancy) -> dict[str, Any]:
    data: dict[str, Any] = {
        "discrepancy_id": found.discrepancy_id,
        "channel": found.channel,
        "statement_date": format_date(found.statement_date),
        "outcome": OUTCOME_NAMES.get(found.outcome, ""),
        "kind": rpb.TransactionKind.Name(found.kind).removeprefix("TRANSACTION_KIND_").lower(),
        "transaction_id": found.transaction_id,
        "channel_transaction_id": found.channel_transaction_id,
        "statement_amount": _money(found.statement_amount),
        "our_amount": _money(found.our_amount),
        "ledger_amount": _money(found.ledger_amount),
        "statement_fee": _money(found.statement_fee),
        "our_fee": _money(found.our_fee),
        "our_state": found.our_state,
        "flagged": found.flagged,
        "suspense_amount": _money(found.suspense_amount),
        "suspense_item_id": found.suspense_item_id,
        "state": rpb.Discrepancy.State.Name(found.state).removeprefix("STATE_").lower(),
    }
    if found.HasField("resolution"):
        data["resolution"] = {
            "action": ACTION_NAMES[found.resolution.action],
            "reason": found.resolution.reason,
            "approver": found.resolution.approver,
            "business_reference": found.resolution.business_reference,
            "counter_account_id": found.resolution.counter_account_id,
        }
    return data


def describe_discrepancy(data: dict[str, Any]) -> str:
    text = (
        f"{data['discrepancy_id']} {data['statement_date']} {data['outcome']} {data['kind']} "
        f"{data['transaction_id']} suspense {data['suspense_amount']} {data['state']}"
    )
    if "resolution" in data:
        text += f" ({data['resolution']['action']})"
    return text


def aging(items: list[dict[str, Any]], today: date) -> dict[str, dict[str, dict[str, int]]]:
    """Open items counted by age, channel and kind (outcome)."""
    report: dict[str, dict[str, dict[str, int]]] = {}
    for item in items:
        days = (today - date.fromisoformat(item["statement_date"])).days
        age = next((label for limit, label in AGES if days <= limit), "over 30 days")
        by_channel = report.setdefault(age, {}).setdefault(item["channel"], {})
        by_channel[item["outcome"]] = by_channel.get(item["outcome"], 0) + 1
    return report


def _recon(address: str) -> grpc.aio.Channel:
    return connect(address)


# Seconds between two looks at a running reconciliation, for its progress bar.
POLL_SECONDS = 1.0


def _show_run(bar: Bar, current: rpb.ReconciliationRun, *, final: bool = False) -> None:
    """The run's phase and buckets matched on the bar."""
    phase = rpb.ReconciliationRun.Phase.Name(current.phase).removeprefix("PHASE_").lower()
    bar.update(
        completed=current.buckets_done,
        total=current.buckets_total or None,
        description=phase,
        final=final,
    )


async def _show_running(
    stub: rpb_grpc.ReconServiceAsyncStub, request: rpb.RunReconciliationRequest, bar: Bar
) -> None:
    """The newest run of the channel's date, while it runs (the run's id is known only once
    it is done); a failed look leaves the bar as it was, the run goes on."""
    try:
        listed = await stub.ListRuns(
            rpb.ListRunsRequest(
                channel=request.channel, statement_date=request.statement_date, page_size=1
            ),
            timeout=10,
        )
    except grpc.aio.AioRpcError:
        return
    if listed.runs and listed.runs[0].state == rpb.ReconciliationRun.STATE_RUNNING:
        _show_run(bar, listed.runs[0])


@recon_app.command("run")
def run_reconciliation(
    channel: Annotated[str, typer.Option(help="channel to reconcile")],
    day: Annotated[
        str | None, typer.Option("--date", help="statement date YYYY-MM-DD (default: yesterday)")
    ] = None,
    request_id: Annotated[str, typer.Option(help="idempotency id (default: a new one)")] = "",
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Reconciles a channel's date three ways; a progress bar (phase, buckets matched) on
    stderr while it runs, when stderr is a terminal."""
    statement_date = parse_date(day or (date.today() - timedelta(days=1)).isoformat(), "--date")
    request = rpb.RunReconciliationRequest(
        request_id=request_id or f"payctl-{uuid.uuid4().hex}",
        channel=channel,
        statement_date=statement_date,
    )

    async def call(bar: Bar) -> rpb.RunReconciliationResponse:
        async with _recon(recon) as grpc_channel:
            stub = rpb_grpc.ReconServiceStub(grpc_channel)
            task = asyncio.ensure_future(stub.RunReconciliation(request, timeout=3600))
            while not task.done():
                await asyncio.wait([task], timeout=POLL_SECONDS)
                if not task.done() and bar.shown:
                    await _show_running(stub, request, bar)
            answer = await task
            _show_run(bar, answer.run, final=True)
            return answer

    with count_bar("starting", "buckets") as bar:
        answer = run(lambda: call(bar))
    data = run_summary(answer.run)
    emit(data, as_json, describe_run(data))


@recon_app.command("runs")
def list_runs(
    channel: Annotated[str, typer.Option(help="only this channel's runs")] = "",
    day: Annotated[str | None, typer.Option("--date", help="only runs of this date")] = None,
    limit: Annotated[int, typer.Option(help="at most this many runs")] = 20,
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Lists reconciliation runs, newest first."""
    request = rpb.ListRunsRequest(channel=channel, page_size=min(limit, 500))
    if day:
        request.statement_date.CopyFrom(parse_date(day, "--date"))

    async def call() -> rpb.ListRunsResponse:
        async with _recon(recon) as grpc_channel:
            return await rpb_grpc.ReconServiceStub(grpc_channel).ListRuns(request)

    runs = [run_summary(r) for r in run(call).runs[:limit]]
    emit({"runs": runs}, as_json, "\n".join(describe_run(r) for r in runs) or "no runs")


@recon_app.command("list")
def list_discrepancies(
    channel: Annotated[str, typer.Option(help="only this channel's")] = "",
    day: Annotated[str | None, typer.Option("--date", help="only those of this date")] = None,
    outcome: Annotated[str, typer.Option(help="only this outcome, e.g. long, short")] = "",
    open_only: Annotated[bool, typer.Option("--open", help="only open ones")] = False,
    report: Annotated[
        bool, typer.Option("--aging", help="open items by age, channel, kind")
    ] = False,
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Lists discrepancies (all pages), or with --aging the open ones' aging report."""
    outcomes = {name: number for number, name in OUTCOME_NAMES.items()}
    if outcome and outcome not in outcomes:
        raise typer.BadParameter(f"one of {', '.join(outcomes)}", param_hint="--outcome")
    request = rpb.ListDiscrepanciesRequest(channel=channel, page_size=1000)
    if outcome:
        request.outcome = outcomes[outcome]  # type: ignore[assignment]
    if open_only or report:
        request.state = rpb.Discrepancy.STATE_OPEN
    if day:
        request.statement_date.CopyFrom(parse_date(day, "--date"))

    async def call() -> list[rpb.Discrepancy]:
        found: list[rpb.Discrepancy] = []
        async with _recon(recon) as grpc_channel:
            stub = rpb_grpc.ReconServiceStub(grpc_channel)
            while True:
                page = await stub.ListDiscrepancies(request)
                found += page.discrepancies
                if not page.next_page_token:
                    return found
                request.page_token = page.next_page_token

    items = [discrepancy_summary(d) for d in run(call)]
    if report:
        table = aging(items, date.today())
        lines = [
            f"{age:>12}  {ch:<16} {kind:<16} {n}"
            for age, channels in table.items()
            for ch, kinds in sorted(channels.items())
            for kind, n in sorted(kinds.items())
        ]
        emit({"aging": table}, as_json, "\n".join(lines) or "no open items")
        return
    emit(
        {"discrepancies": items},
        as_json,
        "\n".join(describe_discrepancy(i) for i in items) or "no discrepancies",
    )


@recon_app.command("resolve")
def resolve_discrepancy(
    discrepancy_id: Annotated[str, typer.Argument(help="the discrepancy")],
    action: Annotated[str, typer.Option(help="refund, supplementary-order or write-off")],
    reason: Annotated[str, typer.Option(help="why, in words")],
    approver: Annotated[str, typer.Option(help="who approved it (a write-off needs one)")] = "",
    reference: Annotated[str, typer.Option(help="the business record, e.g. a refund no.")] = "",
    merchant: Annotated[str, typer.Option(help="supplementary order: the merchant")] = "",
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Resolves (核销) a discrepancy by a business action, clearing its suspense item."""
    if action not in ACTIONS:
        raise typer.BadParameter(f"one of {', '.join(ACTIONS)}", param_hint="--action")
    request = rpb.ResolveDiscrepancyRequest(
        discrepancy_id=discrepancy_id,
        action=ACTIONS[action],
        reason=reason,
        approver=approver,
        business_reference=reference,
        merchant_id=merchant,
    )

    async def call() -> rpb.ResolveDiscrepancyResponse:
        async with _recon(recon) as grpc_channel:
            return await rpb_grpc.ReconServiceStub(grpc_channel).ResolveDiscrepancy(request)

    data = discrepancy_summary(run(call).discrepancy)
    emit(data, as_json, describe_discrepancy(data))


LINE_KINDS = {
    v.number: v.name.removeprefix("KIND_").lower()
    for v in rpb.MerchantStatementLine.Kind.DESCRIPTOR.values
    if v.number
}


def merchant_statement_summary(statement: rpb.MerchantStatement) -> dict[str, Any]:
    return {
        "merchant_id": statement.merchant_id,
        "statement_date": format_date(statement.statement_date),
        "channels": list(statement.channels),
        "payments": statement.payment_count,
        "payment_amount": _money(statement.payment_amount),
        "refunds": statement.refund_count,
        "refund_amount": _money(statement.refund_amount),
        "fees": _money(statement.fee_amount),
        "adjustments": _money(statement.adjustment_amount),
        "other": _money(statement.other_amount),
        "net": _money(statement.net_amount),
        "lines": [
            {
                "kind": LINE_KINDS.get(line.kind, ""),
                "transaction_id": line.transaction_id,
                "channel": line.channel,
                "amount": _money(line.amount),
                "fee": _money(line.fee),
                "net": _money(line.net),
                "post_time": line.post_time.ToDatetime().isoformat() + "Z",
            }
            for line in statement.lines
        ],
    }


def describe_merchant_statement(data: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{data['merchant_id']} {data['statement_date']} "
            f"(channels: {', '.join(data['channels']) or 'none'})",
            f"  {data['payments']} payments {data['payment_amount']}, "
            f"{data['refunds']} refunds {data['refund_amount']}, fees {data['fees']}",
            f"  adjustments {data['adjustments']}, other {data['other']}, net {data['net']}",
        ]
    )


@recon_app.command("merchant-statement")
def merchant_statement(
    merchant: Annotated[str, typer.Option(help="the merchant")],
    day: Annotated[
        str | None, typer.Option("--date", help="statement date YYYY-MM-DD (default: yesterday)")
    ] = None,
    currency: Annotated[str, typer.Option(help="currency of the statement")] = "CNY",
    as_csv: Annotated[bool, typer.Option("--csv", help="the statement as CSV")] = False,
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """A merchant's daily statement (payments, refunds, fees, net) from the ledger, once the
    date's channel reconciliation is clean."""
    request = rpb.GetMerchantStatementRequest(
        merchant_id=merchant,
        statement_date=parse_date(day or (date.today() - timedelta(days=1)).isoformat(), "--date"),
        currency_code=currency.upper(),
    )

    async def call() -> rpb.GetMerchantStatementResponse:
        async with _recon(recon) as grpc_channel:
            return await rpb_grpc.ReconServiceStub(grpc_channel).GetMerchantStatement(request)

    answer = run(call)
    if as_csv:
        sys.stdout.write(answer.csv)
        return
    data = merchant_statement_summary(answer.statement)
    emit(data, as_json, describe_merchant_statement(data))
