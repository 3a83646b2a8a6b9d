"""A user's withdrawal (提现) from their platform wallet to their bound card: a payout.

Identity authorizes it first (the user, their card, the amount against their limits: a
transfer to one's own card counts against the daily limits, not the tier's), naming the card
and its agreement with the bank; then the wallet is held and the bank pays the card, as every
payout is paid. A refusal at any step undoes the steps before it.
"""

from __future__ import annotations

from gateway.domain.errors import PayoutNotFound
from gateway.domain.payouts import CreateWithdrawal, Payout, PayoutPurpose
from gateway.domain.ports import AuthorizePayment, Funding, PayoutInstruction
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.payouts import (
    hold_and_pay,
    load_payout,
    record_payout,
    refuse_payout,
)
from paysuite.errors import Unavailable


async def create_withdrawal(deps: PaymentDeps, command: CreateWithdrawal) -> Payout:
    payout, created = await record_payout(deps, command)
    if not created:
        return payout
    try:
        authorization = await deps.identity.authorize(
            AuthorizePayment(
                payout.payout_id,
                command.user_id,
                command.amount,
                Funding.BALANCE,
                command.auth_factors,
                needs_card=True,
                card_id=command.card_id,
                own_card_transfer=True,
            )
        )
    except Unavailable:
        # Reserved or not: released, should it have been.
        return await refuse_payout(deps, payout, "IDENTITY_UNAVAILABLE", held=False, reserved=True)
    if not authorization.authorized:
        reason = f"PAYER_{authorization.reason}"
        return await refuse_payout(deps, payout, reason, held=False, reserved=False)
    payout = payout.paying_to(authorization.card_id)
    if not authorization.agreement_no:
        # A card bound without a quick-pay agreement: the bank cannot pay it by agreement.
        return await refuse_payout(deps, payout, "CARD_NOT_PAYABLE", held=False, reserved=True)
    instruction = PayoutInstruction(
        payout.payout_id, payout.amount, agreement_no=authorization.agreement_no, remark="提现"
    )
    return await hold_and_pay(deps, payout, instruction, reserved=True)


async def get_withdrawal(deps: PaymentDeps, withdrawal_id: str) -> Payout:
    payout = await load_payout(deps, withdrawal_id)
    if payout.purpose is not PayoutPurpose.WITHDRAWAL:
        raise PayoutNotFound("withdrawal not found", metadata={"withdrawal_id": withdrawal_id})
    return payout
