"""A merchant's settlement payouts in its event stream (WatchPaymentEvents), through the
in-process gateway, ledger and bank simulator: created, then succeeded, failed or returned
(退票), in order, each with the payout as it is now, stored under the event's payout_id."""

from __future__ import annotations

import asyncpg

from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from tests.helpers import connect, eventually, payment_events
from tests.integration import test_gateway_payouts
from tests.integration.conftest import Replica
from tests.integration.payout_support import (  # noqa: F401 (calm_bank: a fixture)
    bank_admin,
    calm_bank,
)
from tests.integration.test_gateway_payouts import CLOSED, OWED, payout_request

# A merchant of its own, owed OWED: the payouts tests' fixture.
merchant = test_gateway_payouts.merchant


async def test_a_merchants_payouts_are_in_its_event_stream(
    replica: Replica, bank_url: str, merchant: str, db: asyncpg.Connection
) -> None:
    async with (
        replica(payout_returns_check_seconds=0.2) as address,
        connect(address) as channel,
    ):
        gateway = pb_grpc.GatewayServiceStub(channel)
        failed = (await gateway.CreatePayout(payout_request(merchant, 1_000, CLOSED))).payout
        paid = (await gateway.CreatePayout(payout_request(merchant, OWED - 5_000))).payout
        assert (failed.state, paid.state) == (ppb.Payout.STATE_FAILED, ppb.Payout.STATE_SUCCEEDED)
        await bank_admin(bank_url, "POST", f"/_admin/payouts/{paid.payout_id}/return", {})

        async def state() -> ppb.Payout.State.ValueType:
            got = await gateway.GetPayout(ppb.GetPayoutRequest(payout_id=paid.payout_id))
            return got.payout.state

        assert await eventually(state, ppb.Payout.STATE_RETURNED) == ppb.Payout.STATE_RETURNED
        events = await payment_events(gateway, merchant, 5)
    assert [(e.type, e.payout.payout_id) for e in events] == [
        ("payout.created", failed.payout_id),
        ("payout.failed", failed.payout_id),
        ("payout.created", paid.payout_id),
        ("payout.succeeded", paid.payout_id),
        ("payout.returned", paid.payout_id),
    ]
    returned = events[4].payout
    assert (returned.state, returned.return_reason, returned.payee) == (
        ppb.Payout.STATE_RETURNED,
        "ACCOUNT_CLOSED",
        "****2345",
    )
    assert events[1].payout.failure_reason == "ACCOUNT_CLOSED"
    assert not any(e.HasField("payment") for e in events)
    # Stored under the payout's own column: no payout id where a payment's belongs.
    stored = await db.fetch(
        "SELECT payment_id, payout_id FROM gateway.payment_events WHERE merchant_id = $1 "
        "ORDER BY sequence",
        merchant,
    )
    assert [(r["payment_id"], r["payout_id"]) for r in stored] == [
        ("", e.payout.payout_id) for e in events
    ]
