"""payctl recon reserve: reconcile the reserve (备付金) account's bank statement of a date
against the ledger (importing the camt.053 file first when one is given; without one, recon
fetches the bank's through the gateway when it has none of the date)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer

from payctl.common import JsonOption, run
from payctl.ledger_commands import format_date, format_units, parse_date
from payctl.output import emit
from payctl.recon_commands import CHUNK_BYTES, ReconOption, _recon
from paysuite.recon.v1 import funds_service_pb2 as fpb
from paysuite.recon.v1 import funds_service_pb2_grpc as fpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc

KIND_NAMES = {
    v.number: v.name.removeprefix("FUNDS_DIFFERENCE_KIND_").lower()
    for v in fpb.FundsDifferenceKind.DESCRIPTOR.values
}
COUNTS = (
    "arrivals",
    "payouts",
    "payout_returns",
    "fundings",
    "unexpected",
    "matched",
    "short",
    "missing",
    "over",
    "posted",
)


def _units(message: Any) -> int | None:
    return int(message.minor_units) if message.currency_code else None


def reserve_summary(answer: fpb.ReconcileReserveAccountResponse) -> dict[str, Any]:
    data: dict[str, Any] = {
        "statement_date": format_date(answer.statement_date),
        "import_id": answer.import_id,
        **{name: getattr(answer, name) for name in COUNTS},
        "balanced": answer.balanced,
        "clean": answer.clean,
        "balances": [
            {
                "currency": b.ledger_balance.currency_code,
                "bank_closing_minor_units": _units(b.bank_closing_balance),
                "ledger_minor_units": b.ledger_balance.minor_units,
                "balanced": b.balanced,
            }
            for b in answer.balances
        ],
        "differences": [
            {
                "kind": KIND_NAMES.get(d.kind, ""),
                "reference": d.reference,
                "channel": d.channel,
                "business_date": format_date(d.business_date) if d.business_date.year else None,
                "currency": d.expected.currency_code,
                "expected_minor_units": d.expected.minor_units,
                "actual_minor_units": d.actual.minor_units,
                "parked_minor_units": d.parked.minor_units,
            }
            for d in answer.differences
        ],
    }
    return data


def describe_reserve(data: dict[str, Any]) -> str:
    verdict = "clean" if data["clean"] else "balanced" if data["balanced"] else "NOT BALANCED"
    lines = [
        f"reserve account {data['statement_date']} ({data['import_id']}): {verdict}",
        f"  entries: {data['arrivals']} settlements, {data['payouts']} payouts, "
        f"{data['payout_returns']} returns, {data['fundings']} coupon fundings, "
        f"{data['unexpected']} unexpected",
        f"  settlements: {data['matched']} matched, {data['short']} short, "
        f"{data['missing']} missing, {data['over']} over; {data['posted']} transfers posted",
    ]
    for b in data["balances"]:
        currency = b["currency"]
        bank = b["bank_closing_minor_units"]
        lines.append(
            f"  {currency}: bank closing "
            f"{'none' if bank is None else format_units(bank, currency)}, ledger "
            f"{format_units(b['ledger_minor_units'], currency)}"
            f"{'' if b['balanced'] else ' DIFFER'}"
        )
    for d in data["differences"]:
        currency = d["currency"]
        lines.append(
            f"  {d['kind']} {d['reference']}: expected "
            f"{format_units(d['expected_minor_units'], currency)}, statement "
            f"{format_units(d['actual_minor_units'], currency)}, parked "
            f"{format_units(d['parked_minor_units'], currency)}"
        )
    return "\n".join(lines)


async def _import(channel: grpc.aio.Channel, file: Path, name: str, day: Any) -> None:
    async def messages() -> AsyncIterator[rpb.ImportStatementRequest]:
        yield rpb.ImportStatementRequest(
            upload=rpb.StatementUpload(
                channel=name, format=rpb.STATEMENT_FORMAT_CAMT053, statement_date=day
            )
        )
        with file.open("rb") as content:
            while chunk := content.read(CHUNK_BYTES):
                yield rpb.ImportStatementRequest(chunk=chunk)

    await rpb_grpc.ReconServiceStub(channel).ImportStatement(messages(), timeout=3600)


def reserve(
    day: Annotated[str, typer.Option("--date", help="statement date YYYY-MM-DD")],
    statement: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="the statement's camt.053 file to import (else recon fetches the bank's)",
        ),
    ] = None,
    statement_channel: Annotated[
        str, typer.Option(help="the name reserve statements are imported under")
    ] = "reserve",
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Reconciles the reserve account's statement of a date: settlements, payouts, differences
    parked in suspense, and the ledger's reserve balance against the bank's closing one."""
    statement_date = parse_date(day, "--date")

    async def call() -> fpb.ReconcileReserveAccountResponse:
        # The channel recon's own commands open (mutual TLS where the suite serves it).
        async with _recon(recon) as channel:
            if statement is not None:
                await _import(channel, statement, statement_channel, statement_date)
            return await fpb_grpc.FundsServiceStub(channel).ReconcileReserveAccount(
                fpb.ReconcileReserveAccountRequest(statement_date=statement_date), timeout=600
            )

    data = reserve_summary(run(call))
    emit(data, as_json, describe_reserve(data))
