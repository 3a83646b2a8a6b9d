"""The bank's authorisation decision for a new quick-pay order."""

from __future__ import annotations

from channelsim.amounts import fee_for
from channelsim.banktime import from_epoch
from channelsim.faults import Dice, Faults
from channelsim.protocol import CARD_DECLINED, INSUFFICIENT_BALANCE, PayRequest
from channelsim.store import FAIL, SUCCESS, Transaction, TransactionStore

# Agreements ending in this suffix always lack funds: a deterministic decline for tests.
BROKE_AGREEMENT_SUFFIX = "0000"


def authorise(
    request: PayRequest,
    *,
    fee_bps: int,
    faults: Faults,
    dice: Dice,
    store: TransactionStore,
    now: float,
) -> Transaction:
    """Decides the outcome of a new order; the caller stores it."""
    moment = from_epoch(now)
    status, err_code, err_msg = SUCCESS, "", ""
    if request.agreement_no.endswith(BROKE_AGREEMENT_SUFFIX):
        status, err_code, err_msg = FAIL, INSUFFICIENT_BALANCE, "insufficient balance"
    elif dice.roll(faults.decline_rate):
        status, err_code, err_msg = FAIL, CARD_DECLINED, "card declined by issuer"
    settles_at = now + faults.processing_ms / 1000 if dice.roll(faults.processing_rate) else None
    return Transaction(
        out_trade_no=request.out_trade_no,
        trade_no=store.new_trade_no(moment, dice.digits),
        mch_id=request.mch_id,
        amount=request.amount,
        currency=request.currency,
        fee=fee_for(request.amount, fee_bps) if status == SUCCESS else 0,
        status=status,
        err_code=err_code,
        err_msg=err_msg,
        trade_time=moment,
        settles_at=settles_at,
    )
