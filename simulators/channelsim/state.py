"""Per-application simulator state, reached by handlers through an aiohttp AppKey."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from channelsim.bill_faults import BillFaultBook
from channelsim.cardholders import CardholderRegistry
from channelsim.faults import Dice, Faults
from channelsim.payouts import PayoutBook
from channelsim.ratelimit import RollingLimiter
from channelsim.refunds import RefundBook
from channelsim.reserve import ReserveAccount
from channelsim.settings import ChannelSimSettings
from channelsim.store import TransactionStore
from channelsim.verifylog import VerificationLog
from paysuite.http_signing import NonceCache


@dataclass
class ChannelState:
    """Everything one running bank holds; faults is replaced whole by the admin endpoint."""

    settings: ChannelSimSettings
    store: TransactionStore
    faults: Faults
    dice: Dice
    nonces: NonceCache
    cardholders: CardholderRegistry
    verifications: VerificationLog
    limiter: RollingLimiter
    refunds: RefundBook = field(default_factory=RefundBook)
    payouts: PayoutBook = field(default_factory=PayoutBook)
    reserve: ReserveAccount = field(default_factory=ReserveAccount)
    bills: BillFaultBook = field(default_factory=BillFaultBook)


STATE = web.AppKey("channelsim_state", ChannelState)
