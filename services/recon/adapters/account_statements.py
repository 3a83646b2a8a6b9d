"""The reserve account's statement of a date, as the gateway fetches it from the bank keeping it
(FetchAccountStatement): recon never calls a bank itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
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

    async def statement(self, day: date) -> AsyncIterator[bytes]:
        call = self._gateway.FetchAccountStatement(
            gpb.FetchAccountStatementRequest(
                channel=self._channel,
                account_number=self._account_number,
                statement_date=date_to_proto(day),
            ),
            timeout=self._timeout,
        )
        try:
            async for response in call:
                yield response.chunk
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(
                "the reserve account's statement could not be fetched",
                metadata={"channel": self._channel, "code": exc.code().name},
            ) from exc
