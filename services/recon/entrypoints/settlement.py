"""SettlementService over gRPC: validate, run the use case, convert the answer."""

from __future__ import annotations

from typing import Any

import grpc

from paysuite.errors import Violations
from paysuite.recon.v1 import settlement_service_pb2 as pb
from paysuite.recon.v1 import settlement_service_pb2_grpc as pb_grpc
from paysuite.runtime.paging import Paging
from paysuite.runtime.protoconv import check_id, date_from_proto
from recon.entrypoints import settlement_convert as convert
from recon.service_layer import settlement, settlement_payouts, settlement_views
from recon.service_layer.settlement_deps import SettlementDeps

Context = grpc.aio.ServicerContext[Any, Any]


class SettlementServicer(pb_grpc.SettlementServiceServicer):
    def __init__(self, deps: SettlementDeps, paging: Paging) -> None:
        self._deps = deps
        self._paging = paging

    async def RunClearing(
        self, request: pb.RunClearingRequest, context: Context
    ) -> pb.RunClearingResponse:
        violations = Violations()
        day = date_from_proto(request.trade_date, "trade_date", violations)
        violations.require(request.HasField("trade_date"), "trade_date", "required")
        settle_on = None
        if request.HasField("settlement_date"):
            settle_on = date_from_proto(request.settlement_date, "settlement_date", violations)
        violations.raise_if_any()
        assert day is not None
        batch_id = await settlement.run_clearing(self._deps, day, settle_on)
        view = await settlement_views.batch_view(self._deps, batch_id)
        return pb.RunClearingResponse(batch=convert.batch_to_proto(view.batch, view))

    async def GetSettlementBatch(
        self, request: pb.GetSettlementBatchRequest, context: Context
    ) -> pb.GetSettlementBatchResponse:
        violations = Violations()
        check_id(request.batch_id, "batch_id", violations, max_length=40)
        violations.raise_if_any()
        view = await settlement_views.batch_view(self._deps, request.batch_id)
        return pb.GetSettlementBatchResponse(batch=convert.batch_to_proto(view.batch, view))

    async def ListSettlementBatches(
        self, request: pb.ListSettlementBatchesRequest, context: Context
    ) -> pb.ListSettlementBatchesResponse:
        violations = Violations()
        page = self._paging.page(request, convert.BATCHES_PAGE, violations, (str, str))
        violations.raise_if_any()
        rows = await settlement_views.list_batches(self._deps, convert.dated(page), page.size + 1)
        batches, token = page.cut(rows, lambda b: (b.trade_date.isoformat(), b.batch_id))
        return pb.ListSettlementBatchesResponse(
            batches=[convert.batch_to_proto(b) for b in batches], next_page_token=token
        )

    async def ListSettlementPayouts(
        self, request: pb.ListSettlementPayoutsRequest, context: Context
    ) -> pb.ListSettlementPayoutsResponse:
        violations = Violations()
        check_id(request.merchant_id, "merchant_id", violations, max_length=32, required=False)
        page = self._paging.page(request, convert.PAYOUTS_PAGE, violations, (str, str))
        violations.raise_if_any()
        rows = await settlement_views.list_payouts(
            self._deps,
            request.merchant_id,
            convert.payout_state(request.state),
            convert.dated(page),
            page.size + 1,
        )
        payouts, token = page.cut(
            rows, lambda p: (p.settlement_date.isoformat(), f"{p.merchant_id} {p.currency}")
        )
        return pb.ListSettlementPayoutsResponse(
            payouts=[convert.payout_to_proto(p) for p in payouts], next_page_token=token
        )

    async def RetryPayout(
        self, request: pb.RetryPayoutRequest, context: Context
    ) -> pb.RetryPayoutResponse:
        violations = Violations()
        check_id(request.settlement_payout_id, "settlement_payout_id", violations, max_length=64)
        violations.raise_if_any()
        payout = await settlement_payouts.retry_payout(self._deps, request.settlement_payout_id)
        return pb.RetryPayoutResponse(payout=convert.payout_to_proto(payout))

    async def GetSettlementStatement(
        self, request: pb.GetSettlementStatementRequest, context: Context
    ) -> pb.GetSettlementStatementResponse:
        violations = Violations()
        check_id(request.batch_id, "batch_id", violations, max_length=40)
        check_id(request.merchant_id, "merchant_id", violations, max_length=32, required=False)
        violations.raise_if_any()
        text = await settlement_views.statement(self._deps, request.batch_id, request.merchant_id)
        return pb.GetSettlementStatementResponse(
            content_type="text/csv", content=text.encode("utf-8")
        )

    async def GetSettlementSettings(
        self, request: pb.GetSettlementSettingsRequest, context: Context
    ) -> pb.GetSettlementSettingsResponse:
        violations = Violations()
        check_id(request.merchant_id, "merchant_id", violations, max_length=32)
        violations.raise_if_any()
        found = await settlement_views.get_settings(self._deps, request.merchant_id)
        return pb.GetSettlementSettingsResponse(settings=convert.settings_to_proto(found))

    async def UpdateSettlementSettings(
        self, request: pb.UpdateSettlementSettingsRequest, context: Context
    ) -> pb.UpdateSettlementSettingsResponse:
        merchant_id, changes = convert.settings_changes(request)
        updated = await settlement_views.update_settings(self._deps, merchant_id, changes)
        return pb.UpdateSettlementSettingsResponse(settings=convert.settings_to_proto(updated))
