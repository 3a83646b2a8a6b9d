"""The reserve account's statement of a date, as the gateway fetches it from the bank keeping it
(FetchAccountStatement): recon never calls a bank itself."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import date

import grpc

from paysuite.errors import Unavailable
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.runtime.protoconv import date_to_proto


class GatewayAccountStatements:
    """One account at one bank channel, its statements fetched through the gateway."""

    def __init__(
        self,
        gateway: grpc.aio.Channel,
        channel: str,
        account_number: str,
        timeout_seconds: float = 600.0,
    ) -> None:
        self._gateway = gpb_grpc.GatewayServiceStub(gateway)
        self._channel = channel
        self._account_number = account_number
        self._timeout = timeout_seconds

    def statement(self, day: date) -> AsyncIterator[bytes]:
        call = self._gateway.FetchAccountStatement(
            gpb.FetchAccountStatementRequest(
                channel=self._channel,
                account_number=self._account_number,
                statement_date=date_to_proto(day),
            ),
            timeout=self._timeout,
        )
        return fetched_chunks(call, "the reserve account's statement", self._channel)


async def fetched_chunks(
    call: AsyncIterable[gpb.FetchChannelStatementResponse | gpb.FetchAccountStatementResponse],
    what: str,
    channel: str,
) -> AsyncIterator[bytes]:
    """A statement file's chunks as the gateway streams them; UNAVAILABLE when it cannot."""
    try:
        async for response in call:
            yield response.chunk
    except grpc.aio.AioRpcError as exc:
        raise Unavailable(
            f"{what} could not be fetched", metadata={"channel": channel, "code": exc.code().name}
        ) from exc
