"""The payment orders of one soak run: unique numbers, small amounts, a fixed mix of methods."""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.type.v1.money_pb2 import Money
from tests.e2e.soak.simulators import ALIPAY, BANK, SIMULATORS, WECHAT

METHODS: Mapping[str, gpb.PaymentMethod.ValueType] = MappingProxyType(
    {
        BANK: gpb.PAYMENT_METHOD_BANK_CARD,
        ALIPAY: gpb.PAYMENT_METHOD_ALIPAY,
        WECHAT: gpb.PAYMENT_METHOD_WECHAT_PAY,
    }
)


@dataclass
class Order:
    """One CreatePayment request as the merchant sends it (and sends again when cut off)."""

    label: str
    channel: str
    request: gpb.CreatePaymentRequest
    close_if_waiting: bool = False


class OrderBook:
    """Makes and keeps every order of the run."""

    def __init__(self) -> None:
        self.run = secrets.token_hex(4)
        self.dice = random.Random(self.run)
        self.orders: list[Order] = []

    def order(
        self, channel: str, label: str, order_no: str | None = None, *, close: bool = False
    ) -> Order:
        count = len(self.orders) + 1
        request = gpb.CreatePaymentRequest(
            request_id=f"soak-{self.run}-{count}",
            merchant_id=demo.MERCHANT_ID,
            merchant_order_no=order_no or self.order_no(),
            amount=Money(currency_code="CNY", minor_units=self.dice.randint(100, 999)),
            method=METHODS[channel],
            payer_user_id=demo.USER_ID,
            description="soak test",
            auth_factors=2,  # the higher daily limit: refusals by limit stay rare
        )
        made = Order(f"{label}#{count}", channel, request, close)
        self.orders.append(made)
        return made

    def order_no(self) -> str:
        return f"SOAK-{self.run}-{secrets.token_hex(4)}"

    def storm(self, phase: str, singles: int) -> list[Order]:
        """Singles round-robin over the channels (some wallet ones closed if the buyer has not
        paid yet), three business orders paid twice at once, and three requests sent twice."""
        batch: list[Order] = []
        for i in range(singles):
            channel = SIMULATORS[i % 3]
            batch.append(self.order(channel, phase, close=channel != BANK and i % 4 == 1))
        for first, second in ((ALIPAY, WECHAT), (BANK, ALIPAY), (WECHAT, BANK)):
            shared = self.order_no()
            batch.append(self.order(first, f"{phase}-dup", shared))
            batch.append(self.order(second, f"{phase}-dup", shared))
        twins = [batch[i] for i in (0, 4, 8)]
        self.dice.shuffle(batch)
        # Two workers take each twin at the same time.
        for twin in twins:
            batch.insert(batch.index(twin) + 1, twin)
        return batch
