"""Who may call what: the caller's identity from its client certificate, a policy per service.

The caller is the SPIFFE id (URI SAN) of the certificate it presented in the TLS handshake,
which the server has already checked against the suite's CA. A policy file names, per RPC,
the identities allowed to call it; anything not named is refused.
"""

from __future__ import annotations

import inspect
import logging
import tomllib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from paysuite.errors import DomainError, ErrorKind
from paysuite.runtime.identities import Identity, Kind
from paysuite.runtime.method_handlers import MethodWrappingInterceptor

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    _Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
else:  # generic only in the type stubs
    _Context = grpc.aio.ServicerContext

# Open to every authenticated caller: probes, and tools that discover the API.
OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


class Unauthenticated(DomainError):
    """The caller presented no certificate naming an identity of the suite."""

    kind = ErrorKind.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class CallerNotAllowed(DomainError):
    """The caller is known but the policy does not let it call this RPC."""

    kind = ErrorKind.PERMISSION_DENIED
    reason = "CALLER_NOT_ALLOWED"


class PolicyError(ValueError):
    """A policy file that names RPCs or identities that do not exist."""


@dataclass(frozen=True)
class Policy:
    """Allowed callers per full method name (/package.Service/Method), as patterns such as
    "service/gateway", "operator/*" or "merchant/*"."""

    allowed: Mapping[str, tuple[str, ...]]

    def allows(self, identity: Identity, method: str) -> bool:
        service = method.strip("/").partition("/")[0]
        if service in OPEN_SERVICES:
            return True
        return any(fnmatchcase(identity.path, p) for p in self.allowed.get(method, ()))

    def callers(self, method: str) -> tuple[str, ...]:
        return self.allowed.get(method, ())

    @classmethod
    def read(cls, path: Path) -> Policy:
        """Every table of a policy file as written, unchecked: for a client choosing whom to
        call as (the dev tools); servers use load."""
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        return cls(
            {
                f"/{service}/{method}": tuple(callers)
                for service, table in document.items()
                for method, callers in table.items()
            }
        )

    @classmethod
    def load(cls, path: Path, services: Sequence[ServiceDescriptor]) -> Policy:
        """Reads a policy file: a table per service, an array of callers per RPC.

        An RPC the file does not name is refused to everyone (and logged at start); a name
        that is no RPC of the services, or a caller that is no identity pattern, is an error.
        Tables of services this server does not run are passed over (one file may serve all).
        """
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        allowed: dict[str, tuple[str, ...]] = {}
        for service in services:
            table = dict(document.get(service.full_name, {}))
            for method in service.methods:
                callers = table.pop(method.name, None)
                if callers is None:
                    _log.warning("policy names no callers", extra={"rpc.method": method.name})
                    continue
                for caller in callers:
                    kind, _, name = str(caller).partition("/")
                    if kind not in Kind.__members__.values() or not name:
                        raise PolicyError(f"{path}: {caller!r} is no identity pattern")
                allowed[f"/{service.full_name}/{method.name}"] = tuple(callers)
            if table:
                raise PolicyError(f"{path}: no such RPCs in {service.full_name}: {list(table)}")
        return cls(allowed)


def caller_of(context: _Context) -> Identity | None:
    """The identity the caller's certificate names, None without one of the suite's."""
    values = list(context.auth_context().get("peer_spiffe_id") or ())
    if len(values) != 1:
        return None
    return Identity.from_uri(values[0].decode("utf-8", "replace"))


def merchant_scope(context: _Context) -> str | None:
    """The merchant id a merchant caller is confined to; None for services and operators,
    whose access the policy already decided."""
    identity = caller_of(context)
    if identity is not None and identity.kind is Kind.MERCHANT:
        return identity.name
    return None


class AuthorizationInterceptor(MethodWrappingInterceptor):
    """Refuses every call the policy does not allow, before the servicer sees it.

    Runs inside the error mapping, so its refusals are ordinary errors with ErrorInfo, and
    logs each refusal with the caller and method (never the request).
    """

    def __init__(self, policy: Policy, on_refused: Callable[[str, str], None] | None = None):
        super().__init__()
        self._policy = policy
        self._on_refused = on_refused

    def _check(self, context: _Context, method: str) -> None:
        identity = caller_of(context)
        if identity is None:
            self._refused(method, "unauthenticated", None)
            raise Unauthenticated("a client certificate of the suite is required")
        if not self._policy.allows(identity, method):
            self._refused(method, "not_allowed", identity)
            raise CallerNotAllowed(f"{identity.path} may not call {method}")

    def _refused(self, method: str, why: str, identity: Identity | None) -> None:
        caller = identity.uri if identity else ""
        _log.warning(
            "call refused",
            extra={"rpc.method": method, "refusal": why, "caller": caller},
        )
        if self._on_refused is not None:
            self._on_refused(method, why)

    def once(self, behavior: Any, method: str) -> Any:
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: _Context) -> AsyncIterator[Any]:
                self._check(context, method)
                async for response in behavior(request, context):
                    yield response

            return stream

        async def call(request: Any, context: _Context) -> Any:
            self._check(context, method)
            return await behavior(request, context)

        return call

    def streaming(self, behavior: Any, method: str) -> Any:
        # The same guard: it streams when the behaviour does.
        return self.once(behavior, method)
