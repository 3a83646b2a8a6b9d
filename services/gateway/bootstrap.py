"""Composition root: wires the gateway's database, channels, clients and relay together."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import aiohttp
import grpc

from gateway.adapters.callback_http import HttpCallbackSender
from gateway.adapters.channel_rules_file import ChannelRulesFile
from gateway.adapters.channels.alipaysim import AlipayChannel
from gateway.adapters.channels.balance import BALANCE_CHANNEL, BalanceChannel
from gateway.adapters.channels.banksim import BankQuickPayChannel
from gateway.adapters.channels.walletsim_common import WalletChannel
from gateway.adapters.channels.wechatsim import WechatChannel
from gateway.adapters.egress import EgressClient, build_egress
from gateway.adapters.identity_client import GrpcIdentity
from gateway.adapters.ledger_client import GrpcLedger
from gateway.adapters.store.channel_records import ChannelRecordStore
from gateway.adapters.store.coalesced_writes import CoalescedPaymentWrites
from gateway.adapters.store.event_bell import EventBell
from gateway.adapters.store.stores import (
    session_factory,
    unit_of_work_factory,
)
from gateway.channel_settings import ChannelKind, ChannelSettings
from gateway.domain.channel_selection import ChannelHours, ChannelTerms
from gateway.domain.model import PaymentMethod
from gateway.domain.ports import ChannelAdapter
from gateway.domain.rate_limits import MerchantRateLimits
from gateway.entrypoints.channel_records import ChannelRecordsServicer
from gateway.entrypoints.notify_http import NotificationListener, bind_socket, serve_listener
from gateway.entrypoints.servicer import GatewayServicer
from gateway.service_layer.callbacks import CallbackDeps, run_dispatcher
from gateway.service_layer.card_verification import VerificationDeps
from gateway.service_layer.channel_accounts import open_channel_accounts
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.events import EventSequencer
from gateway.service_layer.outbox import OutboxRelay
from gateway.service_layer.payout_status import payout_returns_chore, resolve_due_payouts
from gateway.service_layer.status import PAYMENT_CHORES, run_janitor
from gateway.settings import GatewaySettings
from paysuite.clock import utc_now
from paysuite.gateway.v1 import (
    channel_records_pb2,
    channel_records_pb2_grpc,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
)
from paysuite.runtime.clients import open_channel
from paysuite.runtime.database import PoolUnitOfWork, close_pool, create_pool
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.paging import Paging
from paysuite.runtime.request_ids import RequestIdInterceptor, RequestIdStore
from paysuite.runtime.server import ServiceApp

SCHEMA = "gateway"


def _channel_adapter(
    name: str,
    channel: ChannelSettings,
    http: aiohttp.ClientSession,
    egress: EgressClient,
    notify_base: str,
) -> BankQuickPayChannel | AlipayChannel | WechatChannel:
    secret = channel.secret.get_secret_value().encode()
    if channel.kind is ChannelKind.BANK:
        return BankQuickPayChannel(
            name,
            channel.url,
            secret,
            channel.merchant_id,
            http,
            channel.timeout_seconds,
            egress=egress,
            confirm_by_query=channel.confirm_by_query,
        )
    wallet = AlipayChannel if channel.kind is ChannelKind.ALIPAY else WechatChannel
    return wallet(
        name,
        channel.url,
        secret,
        channel.merchant_id,
        f"{notify_base}/notify/{name}",
        egress=egress,
        timeout_seconds=channel.timeout_seconds,
        confirm_by_query=channel.confirm_by_query,
    )


# A record and an answer statement in flight at once (CoalescedPaymentWrites), and a single
# write falling back item by item beside them.
WRITES_POOL_SIZE = 3
# Mutating RPCs without an idempotency of their own, answered once per caller and request id.
IDEMPOTENT = {"/paysuite.gateway.v1.GatewayService/ClosePayment": "request_id"}


async def build_app(settings: GatewaySettings) -> ServiceApp:
    pool = await create_pool(
        settings.dsn, schema=SCHEMA, service="gateway", size=settings.db_pool_size
    )
    writes_pool = await create_pool(
        settings.dsn, schema=SCHEMA, service="gateway", size=WRITES_POOL_SIZE, generic_plans=True
    )
    uow = unit_of_work_factory(pool)
    session = session_factory(pool)
    bell = EventBell()
    await bell.open(pool)
    ledger_channel = open_channel(settings.ledger_addr, settings.tls_files)
    identity_channel = open_channel(settings.identity_addr, settings.tls_files)
    http = aiohttp.ClientSession()
    # Channels the egress routes file does not name go direct.
    egress = build_egress(http, list(settings.channels), settings.egress_routes_file)
    notify_socket = bind_socket(settings.notify_host, settings.notify_port)
    notify_base = (
        settings.notify_base_url or f"http://127.0.0.1:{notify_socket.getsockname()[1]}"
    ).rstrip("/")
    adapters: dict[str, ChannelAdapter] = {
        name: _channel_adapter(name, channel, http, egress, notify_base)
        for name, channel in settings.channels.items()
    }
    adapters[BALANCE_CHANNEL] = BalanceChannel(ledger_channel)
    terms = {
        name: ChannelTerms(
            name,
            channel.kind.method,
            channel.hours(settings.channel_zone),
            channel.max_amount,
            channel.daily_limit,
            channel.retry_elsewhere_on,
        )
        for name, channel in settings.channels.items()
    }
    terms[BALANCE_CHANNEL] = ChannelTerms(
        BALANCE_CHANNEL, PaymentMethod.WALLET_BALANCE, ChannelHours.parse("")
    )
    channel_rules = ChannelRulesFile(
        settings.channel_rules_file, list(adapters), settings.channel_zone
    )
    verifier = adapters[settings.verify_channel]
    assert isinstance(verifier, BankQuickPayChannel)
    wallets = {
        name: adapter for name, adapter in adapters.items() if isinstance(adapter, WalletChannel)
    }
    identity = GrpcIdentity(identity_channel)
    ledger = GrpcLedger(ledger_channel)
    relay = OutboxRelay(
        uow,
        ledger,
        identity,
        utc_now,
        poll_seconds=settings.outbox_poll_seconds,
        linger_seconds=settings.outbox_linger_seconds,
    )
    sequencer = EventSequencer(session, linger_seconds=settings.events_linger_seconds)
    deps = PaymentDeps(
        uow=uow,
        session=session,
        writes=CoalescedPaymentWrites(writes_pool),
        identity=identity,
        channels=adapters,
        terms=terms,
        clock=utc_now,
        ledger=ledger,
        relay=relay,
        sequencer=sequencer,
        channel_rules=channel_rules.current,
        payout_channel=settings.payout_channel,
        payment_rates=MerchantRateLimits(
            settings.payment_rate_per_merchant, settings.payment_burst_per_merchant
        ),
    )
    verification = VerificationDeps(
        uow=uow,
        verifier=verifier,
        fingerprint_key=settings.channels[settings.verify_channel]
        .secret.get_secret_value()
        .encode(),
        clock=utc_now,
    )

    callbacks = CallbackDeps(
        uow=uow, session=session, sender=HttpCallbackSender(http), clock=utc_now
    )

    returns_every = timedelta(seconds=settings.payout_returns_check_seconds)
    chores = (*PAYMENT_CHORES, resolve_due_payouts, payout_returns_chore(returns_every))

    async def janitor() -> None:
        await run_janitor(deps, chores=chores)

    async def channel_accounts() -> None:
        banks = [name for name in adapters if deps.payouts_on(name) is not None]
        await open_channel_accounts(ledger, list(adapters), banks)

    async def merchant_callbacks() -> None:
        await run_dispatcher(callbacks)

    listener = NotificationListener(deps, wallets)

    async def channel_notifications() -> None:
        await serve_listener(listener.application(), notify_socket)

    paging = Paging(settings.page_token_key.get_secret_value().encode())
    servicer = GatewayServicer(deps, verification, paging, bell, routes=egress)

    async def close_channels() -> None:
        notify_socket.close()  # already closed by the listener when it ran
        await http.close()
        await ledger_channel.close(grace=None)
        await identity_channel.close(grace=None)
        await bell.close(pool)
        await close_pool(writes_pool)
        await close_pool(pool)

    records = ChannelRecordsServicer(
        lambda: PoolUnitOfWork(pool, ChannelRecordStore, isolation="repeatable_read"),
        paging,
        lambda: PoolUnitOfWork(pool, ChannelRecordStore),
        utc_now,
    )

    def register(server: grpc.aio.Server) -> None:
        gateway_service_pb2_grpc.add_GatewayServiceServicer_to_server(servicer, server)
        channel_records_pb2_grpc.add_ChannelRecordsServiceServicer_to_server(records, server)

    return ServiceApp(
        name="gateway",
        services=[
            gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"],
            channel_records_pb2.DESCRIPTOR.services_by_name["ChannelRecordsService"],
        ],
        register=register,
        background=[
            channel_accounts,
            relay.run,
            sequencer.run,
            janitor,
            merchant_callbacks,
            channel_notifications,
        ],
        on_stop=[close_channels],
        interceptors=[RequestIdInterceptor(RequestIdStore(pool), IDEMPOTENT)],
    )


DEFINITION = ServiceDefinition(
    name="gateway",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=GatewaySettings,
    build=build_app,
)
