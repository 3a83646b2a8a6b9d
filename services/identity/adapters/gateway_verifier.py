"""CardVerifier over the gateway's VerifyCard: identity never talks to a bank itself."""

from __future__ import annotations

import grpc

from identity.domain.verification import CardCheck, FourElements, Method, Outcome
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc

_OUTCOMES = {
    pb.VERIFY_OUTCOME_MATCH: Outcome.MATCH,
    pb.VERIFY_OUTCOME_MISMATCH: Outcome.MISMATCH,
    pb.VERIFY_OUTCOME_NO_RECORD: Outcome.NO_RECORD,
    pb.VERIFY_OUTCOME_CARD_STATE: Outcome.CARD_STATE,
    pb.VERIFY_OUTCOME_CANNOT_VERIFY: Outcome.CANNOT_VERIFY,
    pb.VERIFY_OUTCOME_RATE_LIMITED: Outcome.RATE_LIMITED,
}

_METHODS = {
    Method.FOUR_ELEMENTS: pb.VERIFY_METHOD_FOUR_ELEMENTS,
    Method.THREE_ELEMENTS: pb.VERIFY_METHOD_THREE_ELEMENTS,
    Method.NAME_ID: pb.VERIFY_METHOD_NAME_ID,
}


def _provider(method: Method, channel: str, bank_code: str) -> str:
    """Who vouched: the card's bank, or the citizen register for a name and ID check."""
    if method is Method.NAME_ID:
        return "citizen-register"
    return f"{channel}:{bank_code}" if bank_code else channel


class GatewayCardVerifier:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 15.0) -> None:
        self._stub = pb_grpc.GatewayServiceStub(channel)
        self._timeout = timeout_seconds

    async def verify(
        self,
        request_id: str,
        elements: FourElements,
        sign: bool,
        method: Method = Method.FOUR_ELEMENTS,
    ) -> CardCheck:
        try:
            answer = await self._stub.VerifyCard(
                pb.VerifyCardRequest(
                    request_id=request_id,
                    name=elements.name,
                    id_number=elements.id_number,
                    card_number=elements.card_number,
                    phone=elements.phone,
                    sign_agreement=sign,
                    method=_METHODS[method],
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            # The gateway could not be asked: nothing was verified, nothing is known.
            return CardCheck(Outcome.CANNOT_VERIFY, "gateway", extra={"code": exc.code().name})
        return CardCheck(
            outcome=_OUTCOMES.get(answer.outcome, Outcome.CANNOT_VERIFY),
            provider=_provider(method, answer.channel, answer.bank_code),
            mismatched=tuple(
                pb.VerifyElement.Name(e).removeprefix("VERIFY_ELEMENT_")
                for e in answer.mismatched_elements
            ),
            reference=answer.channel_reference,
            bank_code=answer.bank_code,
            agreement_no=answer.agreement_no,
            card_state=answer.card_state,
        )
