"""Per-application simulator state, reached by handlers through an aiohttp AppKey."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from paysuite.http_signing import NonceCache
from walletsim.bill_files import BillFiles
from walletsim.bills import Bills
from walletsim.flavour import WalletFlavour
from walletsim.settings import WalletSimSettings
from walletsim.wallet import Wallet


@dataclass
class WalletState:
    """Everything one running wallet holds; wallet.faults is replaced by the admin endpoint,
    bills holds each date's bill faults, bill_files the bill files handed out by URL."""

    settings: WalletSimSettings
    flavour: WalletFlavour
    wallet: Wallet
    nonces: NonceCache
    bills: Bills
    bill_files: BillFiles = field(default_factory=BillFiles)


STATE = web.AppKey("walletsim_state", WalletState)
