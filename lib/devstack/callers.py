"""A channel for tests and tools that calls each RPC as an identity the policies allow.

Each call goes as the first allowed of: the operator, a merchant, a service. The merchant is
the one the request names in merchant_id, else the last one this channel called as (a refund
follows its payment), else the demo merchant; its certificate is issued on first use. The
servers still enforce their policies: this only chooses a certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from devstack import demo
from devstack.pki import SERVICES, DevCA
from paysuite.runtime.authz import Policy
from paysuite.runtime.entrypoint import default_policy_file
from paysuite.runtime.identities import Identity, Kind, merchant, operator, service, valid_name


def suite_policy() -> Policy:
    """The policies shipped with the four services, as one."""
    allowed: dict[str, tuple[str, ...]] = {}
    for name in SERVICES:
        allowed.update(Policy.read(default_policy_file(name)).allowed)
    return Policy(allowed)


def caller_for(
    policy: Policy, method: str, request: Any = None, merchant_id: str = demo.MERCHANT_ID
) -> Identity:
    """Whom to call the method as: operator, else a merchant (the one the request names, if
    it names one that can be, else merchant_id), else a service."""
    patterns = policy.callers(method)
    if not patterns:  # health, reflection, or an RPC nobody may call: shows as refused
        return operator()
    kinds = {p.partition("/")[0] for p in patterns}
    if Kind.OPERATOR in kinds:
        return operator()
    if Kind.MERCHANT in kinds:
        named = getattr(request, "merchant_id", "")
        return merchant(named if valid_name(named) else merchant_id)
    return service(patterns[0].partition("/")[2])


class RoutedChannel(grpc.aio.Channel):
    """A grpc.aio.Channel for generated stubs; one TLS channel per identity it calls as."""

    def __init__(
        self,
        address: str,
        ca: DevCA,
        options: Sequence[tuple[str, Any]] | None = None,
        interceptors: Sequence[Any] | None = None,
    ):
        self._address = address
        self._ca = ca
        self._options = options
        self._interceptors = interceptors
        self._policy = suite_policy()
        self._channels: dict[Identity, grpc.aio.Channel] = {}
        self._merchant = demo.MERCHANT_ID

    def channel_for(self, identity: Identity) -> grpc.aio.Channel:
        if identity not in self._channels:
            self._channels[identity] = self._ca.channel(
                self._address, identity, self._options, self._interceptors
            )
        return self._channels[identity]

    def _bind(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        def call(request: Any = None, *call_args: Any, **call_kwargs: Any) -> Any:
            identity = caller_for(self._policy, method, request, self._merchant)
            if identity.kind is Kind.MERCHANT:
                self._merchant = identity.name
            multicallable = getattr(self.channel_for(identity), kind)(method, *args, **kwargs)
            return multicallable(request, *call_args, **call_kwargs)

        return call

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind("unary_unary", method, *args, **kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind("unary_stream", method, *args, **kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind("stream_unary", method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind("stream_stream", method, *args, **kwargs)

    async def close(self, grace: float | None = None) -> None:
        for channel in self._channels.values():
            await channel.close(grace)
        self._channels.clear()

    async def channel_ready(self) -> None:
        await self.channel_for(operator()).channel_ready()

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.channel_for(operator()).get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self.channel_for(operator()).wait_for_state_change(last_observed_state)

    async def __aenter__(self) -> RoutedChannel:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
