"""What the gateway needs from the outside: channels, identity and the ledger."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from paysuite.money import Money


class ChannelOutcome(enum.Enum):
    """How definite a channel's answer is."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # accepted, final result later
    UNKNOWN = "unknown"  # no usable answer: timeout, connection lost, server error
    # No route could carry the request: it provably never reached the channel.
    NOT_SENT = "not_sent"


@dataclass(frozen=True, slots=True)
class ChannelAnswer:
    outcome: ChannelOutcome
    channel_transaction_id: str = ""
    fee_minor_units: int = 0
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class ChannelNotification:
    """A channel's asynchronous word on a payment, authenticated by its adapter.

    notification_id is the channel's own id for it: resent copies carry the same one.
    """

    notification_id: str
    payment_id: str
    amount: Money
    answer: ChannelAnswer


@dataclass(frozen=True, slots=True)
class ChannelCharge:
    """One instruction to a channel; payment_id doubles as the channel's merchant order no."""

    payment_id: str
    amount: Money
    agreement_no: str
    subject: str
    payer_user_id: str = ""


class ChannelAdapter(Protocol):
    name: str
    # Some channels answer success for debits that did not happen: confirm those by a query.
    confirm_by_query: bool

    async def charge(self, charge: ChannelCharge) -> ChannelAnswer: ...

    async def query(self, payment_id: str) -> ChannelAnswer: ...

    async def refund(self, refund_id: str, payment_id: str, amount: Money) -> ChannelAnswer:
        """Refunds at the channel, idempotent by refund_id; the answer's transaction id is the
        channel's refund number."""
        ...

    def statement(self, day: date) -> AsyncIterator[bytes]: ...


@runtime_checkable
class AccountStatementChannel(Protocol):
    """A bank that keeps an account of ours and serves its daily statement (camt.053)."""

    name: str

    def account_statement(self, account_number: str, day: date) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class PayoutInstruction:
    """One payout to a bank: to a card bound there (its agreement) or to an account with its
    holder's name; payout_id is the bank's idempotency key (its out_payout_no)."""

    payout_id: str
    amount: Money
    agreement_no: str = field(default="", repr=False)
    account_no: str = field(default="", repr=False)
    account_name: str = field(default="", repr=False)
    remark: str = ""


@dataclass(frozen=True, slots=True)
class PayoutReturn:
    """A paid payout the payee's bank sent back (退票), and when."""

    payout_id: str
    reason: str
    returned_at: datetime


@dataclass(frozen=True, slots=True)
class PayoutAnswer:
    """The bank's word on a payout; a returned payout was paid first, so its outcome is
    SUCCEEDED with `returned` set."""

    outcome: ChannelOutcome
    channel_transaction_id: str = ""
    fee_minor_units: int = 0
    error_code: str = ""
    returned: PayoutReturn | None = None


@runtime_checkable
class PayoutChannel(Protocol):
    """A bank that pays out (代付); it answers UNKNOWN rather than raise."""

    name: str

    async def payout(self, instruction: PayoutInstruction) -> PayoutAnswer: ...

    async def query_payout(self, payout_id: str) -> PayoutAnswer:
        """FAILED with error_code ORDER_NOT_EXIST when the bank has no such payout."""
        ...

    async def payout_returns(self, day: date) -> list[PayoutReturn]:
        """The payouts that came back on the bank date `day`; raises Unavailable when the bank
        gives no usable answer."""
        ...


@runtime_checkable
class ClosableChannel(Protocol):
    """A channel that can close an unpaid order, so the buyer can no longer pay it.

    close answers FAILED with error_code CLOSED once the order is closed (or was never paid and
    is already closed), FAILED with ORDER_NOT_EXIST when the channel has no such order, and
    anything else when it would not or could not close it.
    """

    async def close(self, payment_id: str) -> ChannelAnswer: ...


class VerifyMethod(enum.Enum):
    """Which elements a verification compares, and so which provider answers it."""

    FOUR_ELEMENTS = "four_elements"  # at the card's bank
    THREE_ELEMENTS = "three_elements"  # at the card's bank, without the mobile
    NAME_ID = "name_id"  # against the citizen identity register


class VerifyOutcome(enum.Enum):
    """A provider-neutral verdict on four elements."""

    MATCH = "match"
    MISMATCH = "mismatch"
    NO_RECORD = "no_record"
    CARD_STATE = "card_state"  # the card exists but cannot be used (lost, frozen, cancelled)
    CANNOT_VERIFY = "cannot_verify"  # the channel could not say: its answer, timeout, 5xx
    RATE_LIMITED = "rate_limited"


class VerifyElement(enum.Enum):
    """An element the channel compared and found different."""

    NAME = "name"
    ID_NUMBER = "id_number"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class CardCheck:
    """Four elements to verify with a channel; PII, kept out of repr and never logged.

    request_id doubles as the channel's request number, so a retry is idempotent there too.
    """

    request_id: str
    name: str = field(repr=False)
    id_number: str = field(repr=False)
    card_number: str = field(repr=False)
    phone: str = field(repr=False)
    sign_agreement: bool = False
    method: VerifyMethod = VerifyMethod.FOUR_ELEMENTS


@dataclass(frozen=True, slots=True)
class CardVerification:
    """A channel's verdict; it carries no element values."""

    outcome: VerifyOutcome
    mismatched: tuple[VerifyElement, ...] = ()
    card_state: str = ""
    reference: str = ""
    bank_code: str = ""
    agreement_no: str = ""


class CardVerifier(Protocol):
    """A channel that verifies card elements; it answers CANNOT_VERIFY rather than raise."""

    name: str

    async def verify_card(self, check: CardCheck) -> CardVerification: ...


class Funding(enum.Enum):
    """What pays: the payer's platform balance (tier limits) or a card (daily limits only)."""

    BALANCE = "balance"
    CARD = "card"


@dataclass(frozen=True, slots=True)
class PaymentAuthorization:
    """Whether identity lets the payer pay and reserved the amount against their limits; if
    not, why (PAYER_...); for a card payment, the card and its quick-pay agreement."""

    authorized: bool
    reason: str = ""
    card_id: str = ""
    agreement_no: str = ""


@dataclass(frozen=True, slots=True)
class AuthorizePayment:
    payment_id: str
    user_id: str
    amount: Money
    funding: Funding
    auth_factors: int = 1
    # A card payment needs an active bound card (this one, or the default when empty).
    needs_card: bool = False
    card_id: str = ""
    # To the payer's own bound card (a withdrawal): tier limits do not count it.
    own_card_transfer: bool = False


@dataclass(frozen=True, slots=True)
class LimitSettlement:
    """A payment's reservation committed (it succeeded) or released (it did not); returned:
    given back once committed (a withdrawal's payout came back)."""

    payment_id: str
    commit: bool
    returned: bool = False


class SettleOutcome(enum.Enum):
    SETTLED = "settled"  # done now or before
    NOT_FOUND = "not_found"  # nothing was reserved: nothing to settle
    SETTLED_OTHERWISE = "settled_otherwise"  # already settled the other way (logged, final)


class IdentityPort(Protocol):
    async def authorize(self, request: AuthorizePayment) -> PaymentAuthorization:
        """Checks the payer (and card) and reserves the amount, in one step; idempotent by
        payment id."""
        ...

    async def settle_limits(
        self, settlements: Sequence[LimitSettlement]
    ) -> dict[str, SettleOutcome]:
        """Commits or releases each reservation; idempotent. Raises DependencyUnavailable
        when identity cannot be reached (nothing is known to have settled)."""
        ...


@dataclass(frozen=True, slots=True)
class LedgerPosting:
    debit_account_id: str
    credit_account_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LedgerTransfer:
    transfer_id: str
    postings: Sequence[LedgerPosting]
    description: str
    metadata: Mapping[str, str]
    # Held (two-phase) rather than posted, until a HoldSettlement posts or voids it.
    pending: bool = False


@dataclass(frozen=True, slots=True)
class HoldSettlement:
    """A pending transfer posted (post) or voided (not post), by a transfer of its own id."""

    transfer_id: str
    pending_transfer_id: str
    post: bool


class LedgerPort(Protocol):
    async def post(self, transfers: Sequence[LedgerTransfer]) -> dict[str, str]:
        """Posts (or holds) idempotently, in one batch; each transfer's result name (e.g.
        "POSTED", "PENDING", "EXISTS"). Raises DependencyUnavailable when the ledger cannot be
        reached."""
        ...

    async def settle_holds(self, settlements: Sequence[HoldSettlement]) -> dict[str, str]:
        """Posts or voids each pending transfer, idempotently; each settlement's result name
        by its transfer id. Raises DependencyUnavailable when the ledger cannot be reached."""
        ...

    async def available(self, account_id: str) -> int:
        """The account's balance less what holds take of it, in minor units. Raises
        DependencyUnavailable when the ledger cannot be reached."""
        ...

    async def open_receivables(self, channels: Collection[str], currency: str) -> None:
        """Opens each channel's receivable account; one that exists is left as it is."""
        ...

    async def open_payout_accounts(self, channels: Collection[str], currency: str) -> None:
        """Opens the account of what each channel pays out; one that exists is left as it is."""
        ...

    async def open_wallet(self, user_id: str, currency: str) -> None:
        """Opens the user's platform wallet (no overdraft); one that exists is left as it is."""
        ...
