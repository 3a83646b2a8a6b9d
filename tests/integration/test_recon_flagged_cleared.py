"""A payment the gateway flagged for reconciliation is resolved by a run once: the run (matched,
or a difference it stores) has the gateway clear the flag, the payment's events say which run
and who, and a second run of the date does not resolve it again."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import grpc
import pytest

from devstack.pki import dev_channel
from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import channel_records_pb2_grpc as cpb_grpc
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from tests.helpers import connect, outbox_drained
from tests.integration.test_recon_matching import (
    HEADER,
    SHANGHAI,
    _discrepancies,
    _import,
    _pay,
    _records,
    _run,
    card_user,  # noqa: F401 - the fixture
    channel,  # noqa: F401 - the fixture
    gateway,  # noqa: F401 - the fixture
    line,
)


async def _flagged(address: str, on: str) -> list[str]:
    async with connect(address) as conn:
        listed = await cpb_grpc.ChannelRecordsServiceStub(conn).ListFlaggedPayments(
            cpb.ListFlaggedPaymentsRequest(channel=on)
        )
    return [p.payment_id for p in listed.payments]


async def test_a_resolved_flagged_payment_is_cleared_and_not_resolved_again(
    gateway: str,  # noqa: F811 - the fixture
    recon_addr: str,
    channel: str,  # noqa: F811 - the fixture
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        matched, differs, plain = (
            await _pay(stub, 1301, card_user),
            await _pay(stub, 1302, card_user),
            await _pay(stub, 1303, card_user),
        )
    assert await outbox_drained(db)
    # Late answers contradicted two of them: handed to reconciliation.
    flagged = [matched.payment_id, differs.payment_id]
    await db.execute(
        "UPDATE gateway.payments SET needs_reconciliation = true WHERE payment_id = ANY($1)",
        flagged,
    )
    assert sorted(await _flagged(gateway, channel)) == sorted(flagged)
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    records = {r.payment_id: r for r in await _records(gateway, channel, day)}
    bill = [
        HEADER,
        line(records[matched.payment_id]),
        line(records[differs.payment_id], status="FAIL"),  # the bank says it failed
        line(records[plain.payment_id]),
    ]
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        await _import(recon, channel, day, "\n".join(bill) + "\n")
        run = await _run(recon, channel, day)
        assert run.flagged_resolved == 2
        found = await _discrepancies(recon, channel)
        assert list(found) == [(rpb.MATCH_OUTCOME_STATE_MISMATCH, differs.payment_id)]

        assert await _flagged(gateway, channel) == []
        events = await db.fetch(
            "SELECT payment_id, actor, reference FROM gateway.payment_events "
            "WHERE type = 'payment.reconciled' AND payment_id = ANY($1)",
            [*flagged, plain.payment_id],
        )
        assert sorted(tuple(e) for e in events) == sorted(
            (p, "service/recon", run.run_id) for p in flagged
        )

        again = await _run(recon, channel, day)
        assert again.flagged_resolved == 0
        assert (again.discrepancies, again.posted) == (1, 0)  # the difference stays, once
    assert (
        await db.fetchval(
            "SELECT count(*) FROM gateway.payment_events WHERE type = 'payment.reconciled' "
            "AND payment_id = ANY($1)",
            flagged,
        )
        == 2
    )


async def test_clearing_is_idempotent_checked_and_only_for_recon(
    gateway: str,  # noqa: F811 - the fixture
    channel: str,  # noqa: F811 - the fixture
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    async with connect(gateway) as conn:
        paid = await _pay(gpb_grpc.GatewayServiceStub(conn), 1304, card_user)
        await db.execute(
            "UPDATE gateway.payments SET needs_reconciliation = true WHERE payment_id = $1",
            paid.payment_id,
        )
        records = cpb_grpc.ChannelRecordsServiceStub(conn)  # called as service/recon

        def clear(*ids: str, on: str = channel) -> cpb.ClearReconciliationFlagsRequest:
            return cpb.ClearReconciliationFlagsRequest(
                channel=on, payment_ids=list(ids), run_id="rec_test"
            )

        # Another channel's payment is not cleared.
        other = await records.ClearReconciliationFlags(clear(paid.payment_id, on="elsewhere"))
        assert list(other.cleared_payment_ids) == []
        first = await records.ClearReconciliationFlags(clear(paid.payment_id, "pay_unknown"))
        assert list(first.cleared_payment_ids) == [paid.payment_id]
        second = await records.ClearReconciliationFlags(clear(paid.payment_id))
        assert list(second.cleared_payment_ids) == []
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await records.ClearReconciliationFlags(clear())
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await db.execute(
        "UPDATE gateway.payments SET needs_reconciliation = true WHERE payment_id = $1",
        paid.payment_id,
    )
    # Only a reconciliation run clears a flag: not an operator.
    async with dev_channel(gateway, "operator") as operator_conn:
        as_operator = cpb_grpc.ChannelRecordsServiceStub(operator_conn)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await as_operator.ClearReconciliationFlags(clear(paid.payment_id))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await _flagged(gateway, channel) == [paid.payment_id]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM gateway.payment_events WHERE type = 'payment.reconciled' "
            "AND payment_id = $1",
            paid.payment_id,
        )
        == 1
    )
