"""Pieces shared by payctl's command modules: option aliases and the async call runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import grpc
import typer

from payctl.output import fail

T = TypeVar("T")

LedgerOption = Annotated[str, typer.Option(envvar="LEDGER_ADDR", help="ledger host:port")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def run(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs one async gRPC exchange; a failed call prints its reason and exits with 1."""
    try:
        return asyncio.run(call())
    except grpc.aio.AioRpcError as error:
        raise typer.Exit(fail(error)) from None
