"""The wallet-balance channel: a payment from the payer's platform wallet is a ledger transfer.

A charge debits the payer's wallet (which may not go below zero) into this channel's clearing
account, which the capture posting then empties into the merchant's payable, the same way a
bank's receivable is; a refund credits the wallet back from it. The ledger is this channel's
book: its transfer ids (payment and refund ids) make every call idempotent, and a query reads
the transfer back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date

import grpc

from gateway.adapters.channels.banksim import ChannelUnavailable
from gateway.channel_settings import RESERVED_CHANNEL
from gateway.domain.ports import ChannelAnswer, ChannelCharge, ChannelOutcome
from paysuite import accounts
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.runtime.protoconv import money_to_proto

_log = logging.getLogger(__name__)

BALANCE_CHANNEL = RESERVED_CHANNEL
# Why the ledger refused a debit of the wallet, in the words of a channel's decline.
_REFUSALS = {
    pb.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE: "INSUFFICIENT_BALANCE",
    pb.CREATE_TRANSFER_RESULT_ACCOUNT_NOT_FOUND: "WALLET_NOT_FOUND",
    pb.CREATE_TRANSFER_RESULT_ACCOUNT_NOT_ACTIVE: "WALLET_NOT_ACTIVE",
    pb.CREATE_TRANSFER_RESULT_CURRENCY_MISMATCH: "CURRENCY_MISMATCH",
}
_DONE = (pb.CREATE_TRANSFER_RESULT_POSTED, pb.CREATE_TRANSFER_RESULT_EXISTS)


def charge_transfer_id(payment_id: str) -> str:
    return f"{payment_id}:wallet-debit"


def refund_transfer_id(refund_id: str) -> str:
    return f"{refund_id}:wallet-credit"


class BalanceChannel:
    name = BALANCE_CHANNEL
    confirm_by_query = False

    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 5.0) -> None:
        self._stub = pb_grpc.LedgerServiceStub(channel)
        self._timeout = timeout_seconds

    def _clearing(self, currency: str) -> str:
        return accounts.channel_receivable(self.name, currency)

    async def _post(
        self, transfer_id: str, debit: str, credit: str, amount: Money, reference: str
    ) -> ChannelAnswer:
        spec = pb.TransferSpec(
            transfer_id=transfer_id,
            description="wallet balance",
            metadata={"reference": reference},
            postings=[
                pb.Posting(
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=money_to_proto(amount),
                )
            ],
        )
        try:
            response = await self._stub.CreateTransfers(
                pb.CreateTransfersRequest(transfers=[spec]), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            # Sent or not, committed or not: only reading the transfer back can tell.
            _log.warning(
                "ledger gave no answer on a wallet transfer",
                extra={"transfer_id": transfer_id, "code": exc.code().name},
            )
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=exc.code().name)
        return _answer(transfer_id, response.results[0].result)

    async def charge(self, charge: ChannelCharge) -> ChannelAnswer:
        wallet = accounts.user_wallet(charge.payer_user_id, charge.amount.currency)
        return await self._post(
            charge_transfer_id(charge.payment_id),
            wallet,
            self._clearing(charge.amount.currency),
            charge.amount,
            charge.payment_id,
        )

    async def _transfer(self, transfer_id: str) -> pb.Transfer | None:
        response = await self._stub.GetTransfer(
            pb.GetTransferRequest(transfer_id=transfer_id), timeout=self._timeout
        )
        return response.transfer

    async def query(self, payment_id: str) -> ChannelAnswer:
        transfer_id = charge_transfer_id(payment_id)
        try:
            transfer = await self._transfer(transfer_id)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return ChannelAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=exc.code().name)
        assert transfer is not None
        if transfer.state == pb.Transfer.STATE_POSTED:
            return ChannelAnswer(ChannelOutcome.SUCCEEDED, transfer_id)
        return _answer(transfer_id, transfer.result)

    async def refund(self, refund_id: str, payment_id: str, amount: Money) -> ChannelAnswer:
        """Credits back the wallet the charge debited."""
        try:
            charged = await self._transfer(charge_transfer_id(payment_id))
        except grpc.aio.AioRpcError as exc:
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=exc.code().name)
        assert charged is not None
        if charged.state != pb.Transfer.STATE_POSTED:
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="PAYMENT_NOT_DEBITED")
        wallet = charged.postings[0].debit_account_id
        return await self._post(
            refund_transfer_id(refund_id),
            self._clearing(amount.currency),
            wallet,
            amount,
            refund_id,
        )

    async def statement(self, day: date) -> AsyncIterator[bytes]:
        raise ChannelUnavailable(
            "the wallet balance has no statement: the ledger is its book",
            metadata={"channel": self.name},
        )
        yield b""  # pragma: no cover - makes this an async generator


def _answer(transfer_id: str, result: pb.CreateTransferResult.ValueType) -> ChannelAnswer:
    if result in _DONE:
        return ChannelAnswer(ChannelOutcome.SUCCEEDED, transfer_id)
    refusal = _REFUSALS.get(result)
    if refusal is not None:
        return ChannelAnswer(ChannelOutcome.FAILED, error_code=refusal)
    # Any other refusal means the transfer as we sent it was wrong, not the payer's balance.
    name = pb.CreateTransferResult.Name(result).removeprefix("CREATE_TRANSFER_RESULT_")
    return ChannelAnswer(ChannelOutcome.FAILED, error_code=f"LEDGER_{name}")
