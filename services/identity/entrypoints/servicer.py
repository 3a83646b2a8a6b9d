"""IdentityService over gRPC: validate, call the use case, answer with masked values."""

from __future__ import annotations

from typing import Any

import grpc

from identity.adapters.crypto import PiiVault
from identity.entrypoints import convert
from identity.service_layer import handlers
from identity.service_layer.handlers import Clock
from identity.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import Violations
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import check_id, money_from_proto

Context = grpc.aio.ServicerContext[Any, Any]


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, vault: PiiVault, clock: Clock) -> None:
        self._uow = uow
        self._vault = vault
        self._clock = clock

    async def RegisterUser(
        self, request: pb.RegisterUserRequest, context: Context
    ) -> pb.RegisterUserResponse:
        command = convert.register_command(request)
        user = await handlers.register_user(self._uow, self._vault, command, self._clock)
        return pb.RegisterUserResponse(user=convert.user_to_proto(user))

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.GetUserResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        violations.raise_if_any()
        user = await handlers.get_user(self._uow, request.user_id)
        return pb.GetUserResponse(user=convert.user_to_proto(user))

    async def CheckPaymentEligibility(
        self, request: pb.CheckPaymentEligibilityRequest, context: Context
    ) -> pb.CheckPaymentEligibilityResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        check_id(request.card_id, "card_id", violations, required=False)
        money_from_proto(request.amount, "amount", violations, has_value=request.HasField("amount"))
        violations.raise_if_any()
        result = await handlers.check_eligibility(self._uow, request.user_id, request.card_id)
        return convert.eligibility_to_proto(result)
