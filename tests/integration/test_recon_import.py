"""ImportStatement against a real recon server and Postgres, and `payctl recon import` on it."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import grpc
import pytest
from google.type import date_pb2
from typer.testing import CliRunner

from payctl.main import app
from paysuite.recon.v1 import recon_service_pb2 as pb
from paysuite.recon.v1 import recon_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_info, field_violations
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect
from tests.integration.conftest import serving
from tests.unit.statement_support import FIXTURES, fixture

WECHAT_ALL = "gunsluo__wechatpay-go__helper_test.go__tradebill_ALL_gunzipped.csv"
OCA = "OCA__bank-statement-import__account_statement_import_camt__test_files__test-camt053.xml"
DAY = date_pb2.Date(year=2021, month=1, day=28)


@pytest.fixture(scope="module")
async def recon_alone(suite_db: str) -> AsyncIterator[str]:
    """Recon by itself: importing a file calls no other service (the gateway's address is
    never dialled)."""
    async with serving(build_recon, ReconSettings(gateway_addr="127.0.0.1:9")) as addr:
        yield addr


@pytest.fixture
async def recon(recon_alone: str) -> AsyncIterator[pb_grpc.ReconServiceAsyncStub]:
    async with connect(recon_alone) as channel:
        yield pb_grpc.ReconServiceStub(channel)


def channel_name() -> str:
    return f"wx{secrets.token_hex(4)}"


async def upload(
    stub: pb_grpc.ReconServiceAsyncStub,
    content: bytes,
    channel: str,
    statement_format: pb.StatementFormat.ValueType = pb.STATEMENT_FORMAT_WECHAT,
    chunk: int = 7,  # small enough to split the bill's UTF-8 characters across messages
) -> pb.ImportStatementResponse:
    async def messages() -> AsyncIterator[pb.ImportStatementRequest]:
        yield pb.ImportStatementRequest(
            upload=pb.StatementUpload(channel=channel, format=statement_format, statement_date=DAY)
        )
        for start in range(0, len(content), chunk):
            yield pb.ImportStatementRequest(chunk=content[start : start + chunk])

    return await stub.ImportStatement(messages())


async def written(db: asyncpg.Connection, channel: str) -> tuple[int, int]:
    """Imports and lines stored for a channel."""
    imports = await db.fetchval(
        "SELECT count(*) FROM recon.statement_imports WHERE channel = $1", channel
    )
    lines = await db.fetchval(
        "SELECT count(*) FROM recon.statement_lines l JOIN recon.statement_imports i"
        " USING (import_id) WHERE i.channel = $1",
        channel,
    )
    return imports, lines


async def test_a_bill_is_imported_once_and_a_corrected_one_replaces_it(
    recon: pb_grpc.ReconServiceAsyncStub, db: asyncpg.Connection
) -> None:
    channel = channel_name()
    content = fixture(WECHAT_ALL)

    first = await upload(recon, content, channel)
    again = await upload(recon, content, channel, chunk=1 << 20)

    imported = first.statement_import
    assert not first.replayed
    assert (imported.rows, imported.rejected_count, list(imported.breaks)) == (3, 0, [])
    (totals,) = imported.totals
    assert (totals.payments, totals.payment_minor_units, totals.fee_net) == (3, 3, "0.00000")
    assert imported.control_totals_consistent
    assert not imported.HasField("balances_consistent")
    assert imported.file_bytes == len(content)
    assert again.replayed
    assert again.statement_import == imported
    assert await written(db, channel) == (1, 3)
    row = await db.fetchrow(
        "SELECT * FROM recon.statement_lines WHERE import_id = $1 AND seq = 1", imported.import_id
    )
    assert (row["line_no"], row["kind"], row["channel_transaction_id"], row["order_id"]) == (
        2,
        "payment",
        "4200000925202101284997714292",
        "S20210128170702357723",
    )
    assert (row["amount_minor_units"], row["fee"]) == (1, Decimal("0.00000"))
    assert str(row["fee"]) == "0.00000"  # the scale the bill gives is kept

    corrected = content.replace(
        b"`3,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.00", b"`3,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.01"
    )
    replacing = await upload(recon, corrected, channel)

    assert not replacing.replayed
    assert replacing.statement_import.replaces_import_id == imported.import_id
    assert list(replacing.statement_import.breaks) == [
        "申请退款总金额: the file says 0.01, its lines give 0.00"
    ]
    assert not replacing.statement_import.control_totals_consistent
    assert await written(db, channel) == (2, 3)  # the earlier import kept, its lines not
    states = await db.fetch(
        "SELECT import_id, state FROM recon.statement_imports"
        " WHERE channel = $1 ORDER BY created_at",
        channel,
    )
    assert [(r["import_id"], r["state"]) for r in states] == [
        (imported.import_id, "replaced"),
        (replacing.statement_import.import_id, "current"),
    ]


async def test_an_older_file_sent_again_after_a_correction_is_recognised_not_reimported(
    recon: pb_grpc.ReconServiceAsyncStub, db: asyncpg.Connection, recon_alone: str
) -> None:
    """A file imported for the day before is that import whatever came after: sent again once a
    corrected file replaced it, nothing is written and the corrected file stays current."""
    channel = channel_name()
    content = fixture(WECHAT_ALL)
    corrected = content.replace(
        b"`3,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.00", b"`3,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.01"
    )
    first = await upload(recon, content, channel)
    correction = await upload(recon, corrected, channel)
    assert first.current_import_id == first.statement_import.import_id
    current_id = correction.statement_import.import_id
    assert correction.current_import_id == current_id
    assert correction.statement_import.replaces_import_id == first.statement_import.import_id

    resent = await upload(recon, content, channel)

    assert resent.replayed
    assert resent.statement_import == first.statement_import
    assert resent.current_import_id == current_id
    assert not resent.HasField("run")
    assert await written(db, channel) == (2, 3)  # nothing new; the correction's lines only
    states = await db.fetch(
        "SELECT import_id, state FROM recon.statement_imports WHERE channel = $1"
        " ORDER BY created_at",
        channel,
    )
    assert [(r["import_id"], r["state"]) for r in states] == [
        (first.statement_import.import_id, "replaced"),
        (current_id, "current"),
    ]
    # The correction again is the current import, replayed.
    again = await upload(recon, corrected, channel)
    assert (again.replayed, again.statement_import.import_id, again.current_import_id) == (
        True,
        current_id,
        current_id,
    )

    # payctl says which import is current.
    path = FIXTURES / WECHAT_ALL
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["recon", "import", str(path), "--format", "wechat", "--date", "2021-01-28",
         "--channel", channel, "--recon", recon_alone],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"{first.statement_import.import_id} {channel} wechat 2021-01-28"
        f" (imported before, replaced since: {current_id} stays current)"
    )
    shown = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["recon", "import", str(path), "--format", "wechat", "--date", "2021-01-28",
         "--channel", channel, "--recon", recon_alone, "--json"],
    )  # fmt: skip
    data = json.loads(shown.stdout)
    assert (data["replayed"], data["import_id"], data["current_import_id"]) == (
        True,
        first.statement_import.import_id,
        current_id,
    )


async def test_a_bank_statement_says_whether_its_balances_close(
    recon: pb_grpc.ReconServiceAsyncStub,
) -> None:
    answer = await upload(
        recon, fixture(OCA), channel_name(), pb.STATEMENT_FORMAT_CAMT053, chunk=4096
    )

    imported = answer.statement_import
    (totals,) = imported.totals
    assert (imported.rows, totals.credit_minor_units, totals.debit_minor_units) == (
        4,
        140531,
        141830,
    )
    assert imported.HasField("balances_consistent") and not imported.balances_consistent
    assert "its lines give 15555.28 EUR" in imported.breaks[0]


@pytest.mark.parametrize(
    ("cut", "statement_format", "reason"),
    [
        (False, pb.STATEMENT_FORMAT_WECHAT, "line 1: unknown header"),
        # Refused at its end, after its lines were copied in.
        (True, pb.STATEMENT_FORMAT_CAMT053, "cut short"),
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_and_nothing_is_written(
    recon: pb_grpc.ReconServiceAsyncStub,
    db: asyncpg.Connection,
    cut: bool,
    statement_format: pb.StatementFormat.ValueType,
    reason: str,
) -> None:
    channel = channel_name()
    content = fixture(OCA).rsplit(b"</Stmt>", 1)[0] if cut else b"id,amount\nA,1\n"

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await upload(recon, content, channel, statement_format, chunk=512)

    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(refused.value)
    assert info is not None and info.reason == "STATEMENT_UNREADABLE"
    ((field, description),) = field_violations(refused.value)
    assert field == "chunk"
    assert reason in description
    assert await written(db, channel) == (0, 0)


async def test_a_call_that_does_not_start_with_a_valid_upload_is_refused(
    recon: pb_grpc.ReconServiceAsyncStub,
) -> None:
    async def chunk_first() -> AsyncIterator[pb.ImportStatementRequest]:
        yield pb.ImportStatementRequest(chunk=b"x")

    async def bad_upload() -> AsyncIterator[pb.ImportStatementRequest]:
        mapping = pb.CsvColumnMapping(columns={"colour": "c"}, time_zone="Mars/Olympus")
        yield pb.ImportStatementRequest(
            upload=pb.StatementUpload(channel="bad channel", csv_mapping=mapping)
        )

    violations = []
    for messages in (chunk_first(), bad_upload()):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await recon.ImportStatement(messages)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        violations.append(sorted(field for field, _ in field_violations(refused.value)))

    assert violations == [
        ["upload"],
        [
            "upload.channel",
            "upload.csv_mapping",
            "upload.csv_mapping.columns[colour]",
            "upload.csv_mapping.time_zone",
            "upload.format",
            "upload.statement_date",
        ],
    ]


async def test_payctl_recon_import_prints_the_figures_of_the_file(recon_alone: str) -> None:
    channel = channel_name()

    async def payctl(*args: str) -> dict[str, object]:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["recon", "import", *args, "--channel", channel, "--recon", recon_alone, "--json"],
        )
        assert result.exit_code == 0, result.output
        data: dict[str, object] = json.loads(result.stdout)
        return data

    wechat = await payctl(str(FIXTURES / WECHAT_ALL), "--format", "wechat", "--date", "2021-01-28")
    camt = await payctl(str(FIXTURES / OCA), "--format", "camt053", "--date", "2014-01-05")

    assert {k: wechat[k] for k in ("rows", "payments", "refunds", "fee_net", "rejected")} == {
        "rows": 3,
        "payments": 3,
        "refunds": 0,
        "fee_net": "0.00000",
        "rejected": [],
    }
    assert (wechat["payment_minor_units"], wechat["refund_minor_units"]) == (3, 0)
    assert "balances_consistent" not in wechat
    assert {
        k: camt[k]
        for k in ("rows", "credit_minor_units", "debit_minor_units", "balances_consistent")
    } == {
        "rows": 4,
        "credit_minor_units": 140531,
        "debit_minor_units": 141830,
        "balances_consistent": False,
    }
