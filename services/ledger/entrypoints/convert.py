"""Ledger protobuf messages to domain values and back; all request validation lives here."""

from __future__ import annotations

from ledger.domain.model import (
    Account,
    AccountSpec,
    AccountState,
    AccountType,
    CreateAccountResult,
    OwnerType,
    Posting,
    TransferRequest,
    TransferResult,
)
from paysuite.errors import Violations
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.money import CurrencyError, Money, check_currency
from paysuite.runtime.protoconv import check_id, money_from_proto, money_to_proto, timestamp

MAX_BATCH = 8000

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
STATES = {
    AccountState.ACTIVE: pb.Account.ACTIVE,
    AccountState.FROZEN: pb.Account.FROZEN,
    AccountState.CLOSED: pb.Account.CLOSED,
}
# Domain outcomes map to proto enum values by name, e.g. POSTED -> CREATE_TRANSFER_RESULT_POSTED.
ACCOUNT_RESULTS = {
    r: pb.CreateAccountResult.Value(f"CREATE_ACCOUNT_RESULT_{r.name}") for r in CreateAccountResult
}
TRANSFER_RESULTS = {
    r: pb.CreateTransferResult.Value(f"CREATE_TRANSFER_RESULT_{r.name}") for r in TransferResult
}


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
        violations.require(bool(item.name.strip()), f"{field}.name", "required")
        check_id(item.owner_id, f"{field}.owner_id", violations, required=False)
        try:
            check_currency(item.currency_code)
        except CurrencyError:
            violations.add(f"{field}.currency_code", "must be a supported ISO 4217 code")
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
            )
        )
    violations.raise_if_any()
    return specs


def transfer_requests(request: pb.CreateTransfersRequest) -> list[TransferRequest]:
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
        if len(item.description) > 256:
            violations.add(f"{field}.description", "at most 256 characters")
        if not violations:
            result.append(
                TransferRequest(
                    item.transfer_id, tuple(postings), item.description, dict(item.metadata)
                )
            )
    violations.raise_if_any()
    return result


def account_to_proto(account: Account) -> pb.Account:
    spec = account.spec
    currency = spec.currency
    return pb.Account(
        account_id=spec.account_id,
        name=spec.name,
        type=next(k for k, v in ACCOUNT_TYPES.items() if v is spec.type),
        currency_code=currency,
        owner_type=next(k for k, v in OWNER_TYPES.items() if v is spec.owner_type),
        owner_id=spec.owner_id,
        state=STATES[account.state],
        debits_must_not_exceed_credits=spec.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=spec.credits_must_not_exceed_debits,
        debits_posted=money_to_proto(Money(currency, account.debits_posted)),
        credits_posted=money_to_proto(Money(currency, account.credits_posted)),
        balance=money_to_proto(account.balance),
        create_time=timestamp(account.created_at),
    )
