"""What each wallet flavour supplies: ids, words, answers, notifications, routes."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import date

from aiohttp import web

from walletsim.notifier import Message, NotifyStyle
from walletsim.store import Trade

Digits = Callable[[int], str]


class WalletFlavour(abc.ABC):
    """A real wallet's protocol on top of the shared trade engine."""

    name: str
    style: NotifyStyle
    # Where bill files are downloaded from, and whether that request must be signed as the
    # API's are (WeChat Pay's) or the URL's token alone admits it (Alipay's).
    bill_file_path: str
    bill_file_signed: bool

    @abc.abstractmethod
    def trade_no(self, day: date, digits: Digits) -> str:
        """A new wallet trade number."""

    @abc.abstractmethod
    def refund_no(self, day: date, digits: Digits) -> str:
        """A new wallet refund number."""

    @abc.abstractmethod
    def buyer(self, digits: Digits) -> tuple[str, str]:
        """A made-up buyer: (id, login shown masked); buyer data, never logged."""

    @abc.abstractmethod
    def status_word(self, trade: Trade) -> str:
        """The trade's status as this wallet names it."""

    @abc.abstractmethod
    def notifies(self, trade: Trade) -> bool:
        """Whether this wallet notifies the merchant of the trade's decision."""

    @abc.abstractmethod
    def notification(self, trade: Trade, notify_id: str, now: float) -> Message:
        """The notification of a decided trade."""

    @abc.abstractmethod
    def bill_not_ready(self) -> web.Response:
        """The answer to a bill asked for before it is made (late)."""

    @abc.abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The wallet's signed API."""

    @abc.abstractmethod
    def system_error(self) -> web.Response:
        """The 503 answer to an injected error."""

    @abc.abstractmethod
    def signature_error(self, code: str) -> web.Response:
        """The answer to a request whose signature is missing, wrong, expired or replayed."""
