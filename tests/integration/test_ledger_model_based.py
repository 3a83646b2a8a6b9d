"""Random sequences against a real ledger and a simple in-memory model of the same rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paysuite.ledger.v1 import ledger_service_pb2 as pb
from tests.integration.ledger_support import Ledger, R, account, isolated_ledger, tag, transfer

ACCOUNTS = ("wallet", "cash", "shop")  # wallet: no overdraft; cash: asset; shop: liability


@dataclass
class Model:
    """Debit-positive posted and pending totals, and what each transfer id did."""

    posted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACCOUNTS, 0))
    held: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACCOUNTS, 0))
    pending: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    reversible: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)

    def wallet_allows(self, debit: str, credit: str, amount: int) -> bool:
        if debit != "wallet":
            return True
        credits = -min(self.posted["wallet"], 0)  # wallet's credit-normal balance
        incoming = amount if credit == "wallet" else 0
        return self.held["wallet"] + amount <= credits + incoming

    def transfer(self, tid: str, debit: str, credit: str, amount: int, hold: bool) -> int:
        allowed = (
            self.wallet_allows(debit, credit, 0 if hold else amount)
            if not hold
            else (
                debit != "wallet" or self.held["wallet"] + amount <= -min(self.posted["wallet"], 0)
            )
        )
        if not allowed:
            return R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE
        if hold:
            self.held[debit] += amount
            self.pending[tid] = (debit, credit, amount)
            return R.CREATE_TRANSFER_RESULT_PENDING
        self.posted[debit] += amount
        self.posted[credit] -= amount
        self.reversible[tid] = (debit, credit, amount)
        return R.CREATE_TRANSFER_RESULT_POSTED

    def resolve(self, tid: str, pending_id: str, post: bool) -> int:
        if pending_id in self.resolved:
            return self.resolved[pending_id]
        debit, credit, amount = self.pending.pop(pending_id)
        self.held[debit] -= amount
        if post:
            self.posted[debit] += amount
            self.posted[credit] -= amount
            self.reversible[tid] = (debit, credit, amount)
        self.resolved[pending_id] = (
            R.CREATE_TRANSFER_RESULT_ALREADY_POSTED
            if post
            else R.CREATE_TRANSFER_RESULT_ALREADY_VOIDED
        )
        return R.CREATE_TRANSFER_RESULT_POSTED

    def reverse(self, original: str) -> int:
        if original in self.reversed:
            return R.CREATE_TRANSFER_RESULT_ALREADY_REVERSED
        debit, credit, amount = self.reversible[original]
        if not self.wallet_allows(credit, debit, amount):
            return R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE
        self.posted[credit] += amount
        self.posted[debit] -= amount
        self.reversed.add(original)
        return R.CREATE_TRANSFER_RESULT_POSTED


OPERATION = st.one_of(
    st.tuples(
        st.just("transfer"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(ACCOUNTS),
        st.integers(1, 500),
        st.booleans(),
    ),
    st.tuples(st.just("post"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
    st.tuples(
        st.just("cut"),
    ),
    st.tuples(st.just("replay"), st.integers(0, 20)),
)


@pytest.fixture(scope="module")
async def ledger(admin_url: str) -> object:
    async with isolated_ledger(admin_url) as ledger:
        yield ledger


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=st.lists(OPERATION, min_size=1, max_size=25))
async def test_ledger_agrees_with_the_model(
    ledger: Ledger, operations: list[tuple[Any, ...]]
) -> None:
    t = tag()
    ids = {name: f"{name}.{t}" for name in ACCOUNTS}
    await ledger.accounts(
        account(ids["wallet"], no_overdraft=True),
        account(ids["cash"], pb.ACCOUNT_TYPE_ASSET),
        account(ids["shop"]),
    )
    model = Model()
    sent: list[tuple[pb.TransferSpec, int]] = []
    for n, operation in enumerate(operations):
        tid = f"op{n}.{t}"
        match operation:
            case ("transfer", debit, credit, amount, hold) if debit != credit:
                spec = transfer(tid, (ids[debit], ids[credit], amount), pending=hold)
                expected = model.transfer(tid, debit, credit, amount, hold)
                assert await ledger.post(spec) == [expected]
                sent.append((spec, expected))
            case ("post", index, post) if model.pending or model.resolved:
                choices = sorted([*model.pending, *model.resolved])
                pending_id = choices[index % len(choices)]
                expected = model.resolve(tid, pending_id, post)
                if post:
                    posted = await ledger.stub.PostPendingTransfer(
                        pb.PostPendingTransferRequest(
                            transfer_id=tid, pending_transfer_id=pending_id
                        )
                    )
                    assert posted.result == expected
                else:
                    voided = await ledger.stub.VoidPendingTransfer(
                        pb.VoidPendingTransferRequest(
                            transfer_id=tid, pending_transfer_id=pending_id
                        )
                    )
                    assert voided.result == expected
            case ("reverse", index) if model.reversible:
                choices = sorted(model.reversible)
                original = choices[index % len(choices)]
                expected = model.reverse(original)
                reversal = await ledger.stub.ReverseTransfer(
                    pb.ReverseTransferRequest(
                        transfer_id=tid, reversed_transfer_id=original, reason="MODEL"
                    )
                )
                assert reversal.result == expected
            case ("cut",):
                await ledger.stub.RunDayCut(pb.RunDayCutRequest(request_id=tid))
            case ("replay", index) if sent:
                spec, first = sent[index % len(sent)]
                again = await ledger.post(spec)
                assert again == [
                    first
                    if first == R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE
                    else R.CREATE_TRANSFER_RESULT_EXISTS
                ]
            case _:
                continue
        for name in ACCOUNTS:
            row = await ledger.get(ids[name])
            debit_positive = row.debits_posted.minor_units - row.credits_posted.minor_units
            assert debit_positive == model.posted[name], (name, operation)
            assert row.debits_pending.minor_units == model.held[name], (name, operation)
    assert sum(model.posted.values()) == 0
