"""Pieces shared by payctl's command modules: option aliases, the identity payctl calls as,
channels over mutual TLS and the async call runner."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer

from payctl.output import fail
from paysuite.runtime.identities import Identity
from paysuite.runtime.rotating_channel import RotatingChannel
from paysuite.runtime.server import MAX_MESSAGE_BYTES
from paysuite.runtime.settings import DEV_PKI_DIR
from paysuite.runtime.tls import TlsFiles

T = TypeVar("T")

LedgerOption = Annotated[str, typer.Option(envvar="LEDGER_ADDR", help="ledger host:port")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


@dataclass(frozen=True)
class Caller:
    """Whom payctl calls as: <pki_dir>/<name>.pem and .key, trusting <pki_dir>/ca.pem."""

    name: str = "operator"
    pki_dir: Path = DEV_PKI_DIR

    @property
    def identity(self) -> Identity:
        return Identity.from_file_stem(self.name)

    @property
    def files(self) -> TlsFiles:
        return TlsFiles.in_directory(self.pki_dir, self.identity.file_stem)


AsOption = Annotated[
    str,
    typer.Option(
        "--as",
        envvar="PAYCTL_AS",
        help="call as this identity: operator (the default), merchant-M100001, ...; "
        "its certificate and key are <pki-dir>/<name>.pem and .key",
    ),
]
PkiDirOption = Annotated[
    Path,
    typer.Option(
        envvar="PAYSUITE_PKI_DIR", help="directory of ca.pem and the identities' certificates"
    ),
]


# Where the root options of this run are left for its commands (set on every run).
_CALLER_VARIABLES = ("PAYCTL_RUN_AS", "PAYCTL_RUN_PKI_DIR")


def choose_caller(name: str, pki_dir: Path) -> None:
    """Records the identity given to this payctl run (--as, --pki-dir) for its commands."""
    os.environ.update(dict(zip(_CALLER_VARIABLES, (name, str(pki_dir)), strict=True)))


def caller() -> Caller:
    """The identity this payctl run calls as: --as, else the operator."""
    name, pki_dir = (os.environ.get(v) for v in _CALLER_VARIABLES)
    return Caller(name or "operator", Path(pki_dir or DEV_PKI_DIR))


def connect(address: str) -> grpc.aio.Channel:
    """A channel to a service of the suite over mutual TLS, presenting the caller's certificate
    (the files' current one)."""
    who = caller()

    def open_with(credentials: grpc.ChannelCredentials) -> grpc.aio.Channel:
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        return grpc.aio.secure_channel(address, credentials, options=options)

    try:
        return RotatingChannel(who.files, open_with)
    except OSError as exc:
        raise typer.BadParameter(
            f"no certificate for {who.name} in {who.pki_dir} ({exc.strerror}); `make run` "
            "creates the dev ones, `payctl merchant create` a merchant's",
            param_hint="--as",
        ) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--as") from None


def run(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs one async gRPC exchange; a failed call prints its reason and exits with 1."""
    try:
        return asyncio.run(call())
    except grpc.aio.AioRpcError as error:
        raise typer.Exit(fail(error)) from None
