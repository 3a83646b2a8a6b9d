"""payctl user commands: register, verify (four elements), limits."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from payctl.common import JsonOption, connect, run
from payctl.output import message_dict
from paysuite.identity.v1 import identity_service_pb2 as ipb
from paysuite.identity.v1 import identity_service_pb2_grpc as ipb_grpc
from paysuite.money import Money
from paysuite.runtime.enums import short_name

user_app = typer.Typer(help="Users: registration, real name, limits.", no_args_is_help=True)

R = TypeVar("R")

IdentityOption = Annotated[str, typer.Option(envvar="IDENTITY_ADDR", help="identity host:port")]


def _identity(address: str, rpc: Callable[[ipb_grpc.IdentityServiceAsyncStub], Awaitable[R]]) -> R:
    async def call() -> R:
        async with connect(address) as channel:
            return await rpc(ipb_grpc.IdentityServiceStub(channel))

    return run(call)


def _print(data: Any, as_json: bool, human: str) -> None:
    sys.stdout.write((json.dumps(data, ensure_ascii=False, indent=2) if as_json else human) + "\n")


@user_app.command()
def register(
    phone: Annotated[str, typer.Option(help="mainland mobile number")],
    user_id: Annotated[str, typer.Option("--user", help="user id; generated when empty")] = "",
    identity: IdentityOption = "localhost:50053",
    as_json: JsonOption = False,
) -> None:
    """Registers a user by mobile phone."""
    request = ipb.RegisterUserRequest(request_id=str(uuid.uuid4()), user_id=user_id, phone=phone)
    user = _identity(identity, lambda stub: stub.RegisterUser(request, timeout=10)).user
    _print(
        message_dict(user),
        as_json,
        f"{user.user_id} {user.masked_phone} {short_name(ipb.User.State, user.state)}",
    )


@user_app.command()
def verify(
    user_id: Annotated[str, typer.Option("--user", help="user id")],
    name: Annotated[str, typer.Option(prompt=True, help="legal name")],
    id_number: Annotated[str, typer.Option(prompt=True, hide_input=True, help="ID number")],
    card: Annotated[str, typer.Option(prompt=True, hide_input=True, help="bank card number")],
    phone: Annotated[str, typer.Option(prompt=True, help="the card's bank-reserved mobile")],
    bind: Annotated[bool, typer.Option(help="also bind the card")] = True,
    identity: IdentityOption = "localhost:50053",
    as_json: JsonOption = False,
) -> None:
    """Real-names a user by four elements through the bank channel (prompts for what is missing)."""
    request = ipb.VerifyRealNameRequest(
        request_id=str(uuid.uuid4()),
        user_id=user_id,
        method=ipb.VERIFICATION_METHOD_FOUR_ELEMENTS,
        name=name,
        id_number=id_number,
        card_number=card,
        phone=phone,
        bind_card=bind,
    )
    answer = _identity(identity, lambda stub: stub.VerifyRealName(request, timeout=30))
    outcome = short_name(ipb.VerificationOutcome, answer.attempt.outcome)
    human = f"{outcome} tier {ipb.Tier.Name(answer.user.tier)}"
    if answer.attempt.mismatched_elements:
        human += " mismatched: " + ",".join(answer.attempt.mismatched_elements)
    if answer.HasField("card"):
        human += f" card {answer.card.masked_card_number} {answer.card.bank_name}"
    _print(message_dict(answer), as_json, human)


@user_app.command()
def limits(
    user_id: Annotated[str, typer.Option("--user", help="user id")],
    factors: Annotated[int, typer.Option(help="authentication factors of the payment")] = 1,
    identity: IdentityOption = "localhost:50053",
    as_json: JsonOption = False,
) -> None:
    """Shows the user's limits: what each window allows, what is used, what remains."""
    request = ipb.GetLimitsRequest(user_id=user_id, auth_factors=factors)
    answer = _identity(identity, lambda stub: stub.GetLimits(request, timeout=10))

    def money(value: Any) -> str:
        return Money(value.currency_code, value.minor_units).format()

    lines = [
        f"{w.kind:<14} limit {money(w.limit):>16} used {money(w.used):>16} "
        f"remaining {money(w.remaining):>16}"
        for w in answer.limits
    ]
    _print([message_dict(w) for w in answer.limits], as_json, "\n".join(lines))
