"""Composition root: wires the gateway's database, channels, clients and relay together."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from gateway.adapters.callback_http import HttpCallbackSender
from gateway.adapters.channels.alipaysim import AlipayChannel
from gateway.adapters.channels.banksim import BankQuickPayChannel
from gateway.adapters.channels.wechatsim import WechatChannel
from gateway.adapters.egress import EgressClient, build_egress, egress_trace_config
from gateway.adapters.identity_client import GrpcIdentity
from gateway.adapters.ledger_client import GrpcLedger
from gateway.adapters.notify_http import NotificationListener, bind_socket, serve_listener
from gateway.domain.model import PaymentMethod
from gateway.domain.ports import ChannelAdapter
from gateway.entrypoints.servicer import GatewayServicer
from gateway.service_layer.callbacks import CallbackDeps, run_dispatcher
from gateway.service_layer.card_verification import VerificationDeps
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.outbox import OutboxRelay
from gateway.service_layer.status import run_janitor
from gateway.service_layer.unit_of_work import uow_factory
from gateway.settings import GatewaySettings
from paysuite.clock import utc_now
from paysuite.gateway.v1 import gateway_service_pb2, gateway_service_pb2_grpc
from paysuite.runtime.clients import open_channel
from paysuite.runtime.database import create_engine
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.server import ServiceApp, grpc_service_app

SCHEMA = "gateway"


async def build_app(settings: GatewaySettings) -> ServiceApp:
    engine = create_engine(
        settings.dsn, schema=SCHEMA, service="gateway", pool_size=settings.db_pool_size
    )
    uow = uow_factory(engine)
    ledger_channel = open_channel(settings.ledger_addr)
    identity_channel = open_channel(settings.identity_addr)
    http = aiohttp.ClientSession(trace_configs=[egress_trace_config()])
    bank_secret = settings.bank_channel_secret.get_secret_value().encode()
    egress = build_egress(http, [settings.bank_channel_name], settings.routes_file)
    bank = BankQuickPayChannel(
        settings.bank_channel_name,
        settings.bank_channel_url,
        bank_secret,
        settings.bank_channel_merchant_id,
        http,
        settings.bank_channel_timeout_seconds,
        egress=egress,
        confirm_by_query=settings.bank_channel_confirm_by_query,
    )
    # Wallets go direct: the routes file names the bank's routes only.
    wallet_egress = EgressClient.direct(
        http, [settings.alipay_channel_name, settings.wechat_channel_name]
    )
    notify_socket = bind_socket(settings.notify_host, settings.notify_port)
    notify_base = (
        settings.notify_base_url or f"http://127.0.0.1:{notify_socket.getsockname()[1]}"
    ).rstrip("/")
    alipay = AlipayChannel(
        settings.alipay_channel_name,
        settings.alipay_channel_url,
        settings.alipay_channel_secret.get_secret_value().encode(),
        settings.alipay_channel_merchant_id,
        f"{notify_base}/notify/{settings.alipay_channel_name}",
        egress=wallet_egress,
        timeout_seconds=settings.wallet_channel_timeout_seconds,
    )
    wechat = WechatChannel(
        settings.wechat_channel_name,
        settings.wechat_channel_url,
        settings.wechat_channel_secret.get_secret_value().encode(),
        settings.wechat_channel_merchant_id,
        f"{notify_base}/notify/{settings.wechat_channel_name}",
        egress=wallet_egress,
        timeout_seconds=settings.wallet_channel_timeout_seconds,
    )
    channels: dict[str, ChannelAdapter] = {c.name: c for c in (bank, alipay, wechat)}
    identity = GrpcIdentity(identity_channel)
    relay = OutboxRelay(
        uow, GrpcLedger(ledger_channel), identity, utc_now, settings.outbox_poll_seconds
    )
    deps = PaymentDeps(
        uow=uow,
        identity=identity,
        channels={
            PaymentMethod.BANK_CARD: bank,
            PaymentMethod.ALIPAY: alipay,
            PaymentMethod.WECHAT_PAY: wechat,
        },
        relay=relay,
        clock=utc_now,
        hours=settings.channel_hours(),
        max_amounts=settings.channel_max_amounts(),
    )
    verification = VerificationDeps(
        uow=uow, verifier=bank, fingerprint_key=bank_secret, clock=utc_now
    )

    callbacks = CallbackDeps(uow=uow, sender=HttpCallbackSender(http), clock=utc_now)

    async def janitor() -> None:
        await run_janitor(deps)

    async def merchant_callbacks() -> None:
        await run_dispatcher(callbacks)

    listener = NotificationListener(deps, {alipay.name: alipay, wechat.name: wechat})

    async def channel_notifications() -> None:
        await serve_listener(listener.application(), notify_socket)

    servicer = GatewayServicer(deps, channels, verification, routes=egress)

    async def close_channels() -> None:
        notify_socket.close()  # already closed by the listener when it ran
        await http.close()
        await ledger_channel.close(grace=None)
        await identity_channel.close(grace=None)

    return grpc_service_app(
        "gateway",
        gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"],
        gateway_service_pb2_grpc.add_GatewayServiceServicer_to_server,
        servicer,
        background=[relay.run, janitor, merchant_callbacks, channel_notifications],
        on_stop=[close_channels, engine.dispose],
    )


DEFINITION = ServiceDefinition(
    name="gateway",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=GatewaySettings,
    build=build_app,
)
