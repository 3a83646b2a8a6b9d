"""The benchmark's accounts and its pre-serialised CreateTransfers requests."""

from __future__ import annotations

import random
from collections.abc import Iterator

from paysuite.ledger.v1 import ledger_service_pb2 as pb

CURRENCY = "CNY"
HOT_ACCOUNT = f"bench.platform.hot.{CURRENCY}"
CREATE_ACCOUNTS_CHUNK = 5000


def cold_account(index: int) -> str:
    """Id of the index-th cold (merchant) account."""
    return f"bench.merchant.M{index:05d}.{CURRENCY}"


def account_specs(cold_count: int, hot_sub_accounts: int = 1) -> list[pb.AccountSpec]:
    """One hot platform asset account (split when asked), then cold merchant liabilities."""
    specs = [
        pb.AccountSpec(
            account_id=HOT_ACCOUNT,
            name="Benchmark hot platform account",
            type=pb.ACCOUNT_TYPE_ASSET,
            currency_code=CURRENCY,
            owner_type=pb.OWNER_TYPE_PLATFORM,
            sub_accounts=hot_sub_accounts,
        )
    ]
    for index in range(cold_count):
        specs.append(
            pb.AccountSpec(
                account_id=cold_account(index),
                name=f"Benchmark merchant M{index:05d}",
                type=pb.ACCOUNT_TYPE_LIABILITY,
                currency_code=CURRENCY,
                owner_type=pb.OWNER_TYPE_MERCHANT,
                owner_id=f"M{index:05d}",
            )
        )
    return specs


def account_chunks(
    cold_count: int, hot_sub_accounts: int = 1
) -> Iterator[pb.CreateAccountsRequest]:
    """The accounts as CreateAccounts requests of at most CREATE_ACCOUNTS_CHUNK items."""
    specs = account_specs(cold_count, hot_sub_accounts)
    for start in range(0, len(specs), CREATE_ACCOUNTS_CHUNK):
        yield pb.CreateAccountsRequest(accounts=specs[start : start + CREATE_ACCOUNTS_CHUNK])


class TransferFactory:
    """Single-posting transfers with ids prefix+0, prefix+1, ...; hot_share of them debit hot."""

    def __init__(self, prefix: str, cold_count: int, hot_share: float, seed: int) -> None:
        if cold_count < 2:
            raise ValueError("at least two cold accounts are needed")
        self.prefix = prefix
        self.next_seq = 0
        self._cold = [cold_account(i) for i in range(cold_count)]
        self._hot_share = hot_share
        self._rng = random.Random(seed)

    def batch(self, size: int) -> tuple[bytes, int]:
        """A serialised CreateTransfersRequest of size transfers and the seq of its first id."""
        first = self.next_seq
        request = pb.CreateTransfersRequest()
        rng, cold, prefix = self._rng, self._cold, self.prefix
        for seq in range(first, first + size):
            if rng.random() < self._hot_share:
                debit, credit = HOT_ACCOUNT, rng.choice(cold)
            else:
                debit, credit = rng.sample(cold, 2)
            transfer = request.transfers.add(transfer_id=f"{prefix}{seq}")
            posting = transfer.postings.add(debit_account_id=debit, credit_account_id=credit)
            posting.amount.currency_code = CURRENCY
            posting.amount.minor_units = rng.randint(1, 100_000)
        self.next_seq = first + size
        return request.SerializeToString(), first
