"""Ledger protobuf messages to domain values and back; all request validation lives here."""

from __future__ import annotations

from ledger.domain.commands import ClearSuspense, PostPending, Reverse, VoidPending
from ledger.domain.model import (
    AccountSpec,
    AccountType,
    CreateAccountResult,
    OwnerType,
    Posting,
    TransferRequest,
    TransferResult,
    leg_text,
    transfer_digest,
)
from paysuite.errors import Violations, has_control_characters
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.money import MINOR_UNIT_EXPONENTS, CurrencyError, Money, check_currency
from paysuite.runtime.enums import value_of
from paysuite.runtime.protoconv import check_id, money_from_proto, valid_id

MAX_BATCH = 8000
MAX_SUB_ACCOUNTS = 64

ACCOUNT_TYPES = {
    pb.ACCOUNT_TYPE_ASSET: AccountType.ASSET,
    pb.ACCOUNT_TYPE_LIABILITY: AccountType.LIABILITY,
    pb.ACCOUNT_TYPE_EQUITY: AccountType.EQUITY,
    pb.ACCOUNT_TYPE_INCOME: AccountType.INCOME,
    pb.ACCOUNT_TYPE_EXPENSE: AccountType.EXPENSE,
}
OWNER_TYPES = {
    pb.OWNER_TYPE_USER: OwnerType.USER,
    pb.OWNER_TYPE_MERCHANT: OwnerType.MERCHANT,
    pb.OWNER_TYPE_CHANNEL: OwnerType.CHANNEL,
    pb.OWNER_TYPE_PLATFORM: OwnerType.PLATFORM,
}
# Domain outcomes map to proto enum values by name, e.g. POSTED -> CREATE_TRANSFER_RESULT_POSTED.
ACCOUNT_RESULTS = {r: value_of(pb.CreateAccountResult, r.name) for r in CreateAccountResult}
TRANSFER_RESULTS = {r: value_of(pb.CreateTransferResult, r.name) for r in TransferResult}


def _check_batch(size: int, field: str, violations: Violations) -> None:
    if size == 0:
        violations.add(field, "at least one item")
    elif size > MAX_BATCH:
        violations.add(field, f"at most {MAX_BATCH} items")


def account_specs(request: pb.CreateAccountsRequest) -> list[AccountSpec]:
    violations = Violations()
    _check_batch(len(request.accounts), "accounts", violations)
    specs: list[AccountSpec] = []
    for i, item in enumerate(request.accounts):
        field = f"accounts[{i}]"
        check_id(item.account_id, f"{field}.account_id", violations, max_length=128)
        violations.require(item.type in ACCOUNT_TYPES, f"{field}.type", "required")
        violations.require(item.owner_type in OWNER_TYPES, f"{field}.owner_type", "required")
        violations.text(item.name.strip(), f"{field}.name", at_most=200, required=True)
        check_id(item.owner_id, f"{field}.owner_id", violations, required=False)
        try:
            check_currency(item.currency_code)
        except CurrencyError:
            violations.add(f"{field}.currency_code", "must be a supported ISO 4217 code")
        overdraft = 0
        if item.HasField("overdraft_limit"):
            limit = money_from_proto(
                item.overdraft_limit, f"{field}.overdraft_limit", violations, positive=False
            )
            if limit is not None:
                overdraft = limit.minor_units
                violations.require(
                    limit.minor_units >= 0, f"{field}.overdraft_limit", "must not be negative"
                )
                violations.require(
                    limit.currency == item.currency_code,
                    f"{field}.overdraft_limit",
                    "must be in the account currency",
                )
        if not 0 <= item.sub_accounts <= MAX_SUB_ACCOUNTS:
            violations.add(f"{field}.sub_accounts", f"0 to {MAX_SUB_ACCOUNTS}")
        elif item.sub_accounts > 1 and (
            item.debits_must_not_exceed_credits or item.credits_must_not_exceed_debits
        ):
            violations.add(
                f"{field}.sub_accounts",
                "a split account cannot check its balance: no overdraft flags",
            )
        if item.debits_must_not_exceed_credits and item.credits_must_not_exceed_debits:
            violations.add(
                f"{field}.credits_must_not_exceed_debits",
                "cannot be set together with debits_must_not_exceed_credits",
            )
        if violations:
            continue
        specs.append(
            AccountSpec(
                account_id=item.account_id,
                name=item.name.strip(),
                type=ACCOUNT_TYPES[item.type],
                currency=item.currency_code,
                owner_type=OWNER_TYPES[item.owner_type],
                owner_id=item.owner_id,
                debits_must_not_exceed_credits=item.debits_must_not_exceed_credits,
                credits_must_not_exceed_debits=item.credits_must_not_exceed_debits,
                overdraft_limit=overdraft,
                suspense=item.suspense,
                sub_accounts=max(item.sub_accounts, 1),
            )
        )
    violations.raise_if_any()
    return specs


def transfer_requests(request: pb.CreateTransfersRequest) -> list[TransferRequest]:
    """Valid batches take the fast path; any doubt takes the slow one, which names the fields."""
    fast = _fast_transfer_requests(request)
    return fast if fast is not None else _checked_transfer_requests(request)


def _fast_transfer_requests(request: pb.CreateTransfersRequest) -> list[TransferRequest] | None:
    items = request.transfers
    if not 0 < len(items) <= MAX_BATCH:
        return None
    seen: set[str] = set()
    result: list[TransferRequest] = []
    for item in items:
        transfer_id = item.transfer_id
        if transfer_id in seen or not valid_id(transfer_id, 128) or not item.postings:
            return None
        seen.add(transfer_id)
        postings = []
        legs = []
        for posting in item.postings:
            debit, credit, amount = (
                posting.debit_account_id,
                posting.credit_account_id,
                posting.amount,
            )
            if (
                debit == credit
                or amount.minor_units <= 0
                or amount.currency_code not in MINOR_UNIT_EXPONENTS
                or not valid_id(debit, 128)
                or not valid_id(credit, 128)
            ):
                return None
            currency, units = amount.currency_code, amount.minor_units
            postings.append(Posting(debit, credit, Money(currency, units)))
            legs.append(leg_text(debit, credit, currency, units))
        description, timeout, pending = item.description, item.timeout_seconds, item.pending
        if (
            len(description) > 256
            or has_control_characters(description)
            or timeout < 0
            or (timeout and not pending)
        ):
            return None
        fields = item.metadata
        metadata = dict(fields) if fields else {}  # dict() of even an empty map iterates in Python
        if metadata and (
            len(metadata) > 16 or any(len(k) > 64 or len(v) > 256 for k, v in metadata.items())
        ):
            return None
        digest = transfer_digest(";".join(legs), description, metadata, pending, timeout)
        result.append(
            TransferRequest(
                transfer_id,
                tuple(postings),
                description,
                metadata,
                pending=pending,
                timeout_seconds=timeout,
                digest=digest,
            )
        )
    return result


def _checked_transfer_requests(request: pb.CreateTransfersRequest) -> list[TransferRequest]:
    violations = Violations()
    _check_batch(len(request.transfers), "transfers", violations)
    seen: set[str] = set()
    result: list[TransferRequest] = []
    for i, item in enumerate(request.transfers):
        field = f"transfers[{i}]"
        check_id(item.transfer_id, f"{field}.transfer_id", violations, max_length=128)
        if item.transfer_id in seen:
            violations.add(f"{field}.transfer_id", "repeated within the batch")
        seen.add(item.transfer_id)
        if not item.postings:
            violations.add(f"{field}.postings", "at least one posting")
        postings: list[Posting] = []
        for j, posting in enumerate(item.postings):
            pfield = f"{field}.postings[{j}]"
            check_id(
                posting.debit_account_id, f"{pfield}.debit_account_id", violations, max_length=128
            )
            check_id(
                posting.credit_account_id, f"{pfield}.credit_account_id", violations, max_length=128
            )
            if posting.debit_account_id and posting.debit_account_id == posting.credit_account_id:
                violations.add(f"{pfield}.credit_account_id", "must differ from the debit account")
            amount = money_from_proto(
                posting.amount, f"{pfield}.amount", violations, has_value=posting.HasField("amount")
            )
            if amount is not None:
                postings.append(
                    Posting(posting.debit_account_id, posting.credit_account_id, amount)
                )
        violations.text(item.description, f"{field}.description", at_most=256)
        if item.timeout_seconds < 0 or (item.timeout_seconds and not item.pending):
            violations.add(f"{field}.timeout_seconds", "only a pending transfer has a timeout")
        if len(item.metadata) > 16 or any(
            len(k) > 64 or len(v) > 256 for k, v in item.metadata.items()
        ):
            violations.add(f"{field}.metadata", "at most 16 keys of 64, values of 256 characters")
        if not violations:
            result.append(
                TransferRequest(
                    item.transfer_id,
                    tuple(postings),
                    item.description,
                    dict(item.metadata),
                    pending=item.pending,
                    timeout_seconds=item.timeout_seconds,
                )
            )
    violations.raise_if_any()
    return result


def _ids(violations: Violations, **fields: str) -> None:
    for name, value in fields.items():
        check_id(value, name, violations, max_length=200 if name == "item_id" else 128)


def post_pending(request: pb.PostPendingTransferRequest) -> PostPending:
    violations = Violations()
    _ids(
        violations, transfer_id=request.transfer_id, pending_transfer_id=request.pending_transfer_id
    )
    amount = None
    if request.HasField("amount"):
        amount = money_from_proto(request.amount, "amount", violations)
    violations.raise_if_any()
    return PostPending(request.transfer_id, request.pending_transfer_id, amount)


def void_pending(request: pb.VoidPendingTransferRequest) -> VoidPending:
    violations = Violations()
    _ids(
        violations, transfer_id=request.transfer_id, pending_transfer_id=request.pending_transfer_id
    )
    violations.raise_if_any()
    return VoidPending(request.transfer_id, request.pending_transfer_id)


def reverse(request: pb.ReverseTransferRequest) -> Reverse:
    violations = Violations()
    _ids(
        violations,
        transfer_id=request.transfer_id,
        reversed_transfer_id=request.reversed_transfer_id,
    )
    violations.text(request.reason, "reason", at_most=128, required=True)
    violations.raise_if_any()
    return Reverse(request.transfer_id, request.reversed_transfer_id, request.reason.strip())


def clear_suspense(request: pb.ClearSuspenseItemRequest) -> ClearSuspense:
    violations = Violations()
    _ids(
        violations,
        transfer_id=request.transfer_id,
        item_id=request.item_id,
        counter_account_id=request.counter_account_id,
    )
    violations.text(request.reason, "reason", at_most=128, required=True)
    violations.text(request.business_reference, "business_reference", at_most=128, required=True)
    violations.raise_if_any()
    return ClearSuspense(
        request.transfer_id,
        request.item_id,
        request.counter_account_id,
        request.reason.strip(),
        request.business_reference.strip(),
    )
