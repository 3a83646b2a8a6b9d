"""Composition root: wires recon's database, the gateway's and ledger's clients, the matching
engine and the servicer into a ServiceApp."""

from __future__ import annotations

from pathlib import Path

import grpc

from paysuite.clock import utc_now
from paysuite.recon.v1 import (
    funds_service_pb2,
    funds_service_pb2_grpc,
    recon_service_pb2,
    recon_service_pb2_grpc,
    settlement_service_pb2,
    settlement_service_pb2_grpc,
)
from paysuite.runtime.clients import open_channel
from paysuite.runtime.database import SqlUnitOfWork, close_pool, create_engine, create_pool
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.paging import Paging
from paysuite.runtime.request_ids import RequestIdInterceptor, RequestIdStore
from paysuite.runtime.server import ServiceApp
from recon.adapters.account_statements import GatewayAccountStatements
from recon.adapters.engine import EngineSettings
from recon.adapters.funds_ledger import GrpcFundsLedger
from recon.adapters.funds_repository import FundsRepository
from recon.adapters.merchant_book import LedgerMerchantBook
from recon.adapters.records import FileRecords, GrpcRecords
from recon.adapters.repository import ReconRepository
from recon.adapters.settlement_clients import GatewayPayouts, GatewayRecords, LedgerBooks
from recon.adapters.settlement_repository import SettlementRepository
from recon.adapters.statement_repository import StatementRepository
from recon.adapters.statements import open_reader
from recon.adapters.suspense import GrpcSuspense
from recon.adapters.uploads import SpooledUpload
from recon.domain.settlement_calendar import BusinessCalendar
from recon.domain.statements import StatementFormat
from recon.entrypoints.funds import FundsServicer
from recon.entrypoints.servicer import ReconServicer, StatementImports
from recon.entrypoints.settlement import SettlementServicer
from recon.service_layer.funds import FundsConfig, FundsDeps
from recon.service_layer.open_items import measure_open_items
from recon.service_layer.reserve_statements import ReserveStatementFetch
from recon.service_layer.runs import OUR_ZONE, IndexedJob, RunConfig, RunDeps
from recon.service_layer.settlement_deps import SettlementDeps
from recon.service_layer.settlement_follow import follow_forever
from recon.settings import ReconSettings

SCHEMA = "recon"


def run_config(settings: ReconSettings) -> RunConfig:
    return RunConfig(
        engine=EngineSettings(
            buckets=settings.buckets,
            ranges=settings.ranges,
            workers=settings.workers,
            memory_limit_mb=settings.worker_memory_mb,
        ),
        work_dir=settings.work_dir,
        carry_seconds=settings.carry_window_seconds,
        formats={c: StatementFormat(f) for c, f in settings.statement_formats.items()},
        bill_zones=settings.bill_zones,
        failure_states=settings.failure_states,
        fees_from_bill=frozenset(settings.fees_from_bill),
        ledger_books=frozenset(settings.settlement_unreconciled),
        indexed_job=IndexedJob(
            timeout_seconds=settings.job_timeout_seconds,
            poll_seconds=settings.job_poll_seconds,
            retries=settings.job_retries,
        )
        if settings.match_runner == "indexed-job"
        else None,
    )


# Answered once per caller and request id, over all of the request (the run's own request_id
# compares only channel and date).
IDEMPOTENT = {"/paysuite.recon.v1.ReconService/RunReconciliation": "request_id"}


async def build_app(settings: ReconSettings) -> ServiceApp:
    # The request-id store's few statements, on a small asyncpg pool of their own.
    request_pool = await create_pool(settings.dsn, schema=SCHEMA, service="recon", size=2)
    engine = create_engine(
        settings.dsn, schema=SCHEMA, service="recon", pool_size=settings.db_pool_size
    )
    gateway_channel = open_channel(settings.gateway_addr, settings.tls_files)
    ledger_channel = open_channel(settings.ledger_addr, settings.tls_files)
    records = (
        GrpcRecords(gateway_channel, ledger_channel)
        if settings.records_dir is None
        else FileRecords(settings.records_dir, gateway_channel, ledger_channel)
    )
    statements = lambda: SqlUnitOfWork(engine, StatementRepository)  # noqa: E731
    suspense = GrpcSuspense(ledger_channel)
    deps = RunDeps(
        uow=lambda: SqlUnitOfWork(engine, ReconRepository),
        statements=statements,
        records=records,
        suspense=suspense,
        open_reader=open_reader,
        new_spool=SpooledUpload,
        clock=utc_now,
        config=run_config(settings),
    )
    servicer = ReconServicer(
        deps,
        StatementImports(statements, open_reader, SpooledUpload),
        suspense,
        Paging(settings.page_token_key.get_secret_value().encode()),
        LedgerMerchantBook(ledger_channel),
    )

    settlement = SettlementDeps(
        uow=lambda: SqlUnitOfWork(engine, SettlementRepository),
        records=GatewayRecords(gateway_channel),
        books=LedgerBooks(ledger_channel),
        payouts=GatewayPayouts(gateway_channel),
        calendar=BusinessCalendar(
            frozenset(settings.settlement_holidays), frozenset(settings.settlement_workdays)
        ),
        channels=settings.settlement_channels,
        unreconciled=frozenset(settings.settlement_unreconciled),
        clock=utc_now,
        zone=OUR_ZONE,
    )
    settlement_servicer = SettlementServicer(
        settlement, Paging(settings.page_token_key.get_secret_value().encode())
    )

    funds_servicer = FundsServicer(
        FundsDeps(
            uow=lambda: SqlUnitOfWork(engine, FundsRepository),
            ledger=GrpcFundsLedger(ledger_channel),
            clock=utc_now,
            config=FundsConfig(
                settings.reserve_statement_channel,
                settings.reserve_payouts_channel,
                settings.reserve_settlement_days,
                frozenset(settings.fees_from_bill),
                frozenset(settings.reserve_bills_first),
            ),
            fetch_statement=ReserveStatementFetch(
                statements=statements,
                source=GatewayAccountStatements(
                    gateway_channel, settings.reserve_payouts_channel, settings.reserve_account_no
                ),
                open_reader=open_reader,
                new_spool=SpooledUpload,
                clock=utc_now,
                statement_channel=settings.reserve_statement_channel,
            ),
        )
    )

    async def close_channels() -> None:
        await gateway_channel.close(grace=None)
        await ledger_channel.close(grace=None)

    def register(server: grpc.aio.Server) -> None:
        recon_service_pb2_grpc.add_ReconServiceServicer_to_server(servicer, server)
        settlement_service_pb2_grpc.add_SettlementServiceServicer_to_server(
            settlement_servicer, server
        )
        funds_service_pb2_grpc.add_FundsServiceServicer_to_server(funds_servicer, server)

    return ServiceApp(
        name="recon",
        services=[
            recon_service_pb2.DESCRIPTOR.services_by_name["ReconService"],
            settlement_service_pb2.DESCRIPTOR.services_by_name["SettlementService"],
            funds_service_pb2.DESCRIPTOR.services_by_name["FundsService"],
        ],
        register=register,
        background=[
            lambda: follow_forever(settlement, settings.settlement_follow_seconds),
            lambda: measure_open_items(deps.uow, utc_now),
        ],
        on_stop=[close_channels, engine.dispose, lambda: close_pool(request_pool)],
        interceptors=[RequestIdInterceptor(RequestIdStore(request_pool), IDEMPOTENT)],
    )


DEFINITION = ServiceDefinition(
    name="recon",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=ReconSettings,
    build=build_app,
)
