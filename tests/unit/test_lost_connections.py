"""A lost or refused database connection is told apart from other errors, also when wrapped."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from asyncpg.exceptions import AdminShutdownError, CannotConnectNowError
from sqlalchemy.exc import DBAPIError

from paysuite.runtime.lost_connections import lost_database


async def _connecting_to_a_missing_socket() -> BaseException:
    try:
        await asyncpg.connect(host="/nonexistent-socket-dir", user="postgres", timeout=5)
    except OSError as error:
        return error
    raise AssertionError("connected to nothing")  # pragma: no cover


async def test_a_socket_gone_while_connecting_is_lost_but_our_own_missing_file_is_not(
    tmp_path: Path,
) -> None:
    assert lost_database(await _connecting_to_a_missing_socket())
    try:
        (tmp_path / "missing").read_text()
    except FileNotFoundError as ours:
        assert not lost_database(ours)


def _raised_from(cause: BaseException) -> BaseException:
    """The error as SQLAlchemy raises it around the driver's."""
    try:
        raise DBAPIError("SELECT 1", {}, cause) from cause
    except DBAPIError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        AdminShutdownError("terminating connection due to administrator command"),
        CannotConnectNowError("the database system is starting up"),
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.InterfaceError("connection is closed"),
        _raised_from(asyncpg.ConnectionDoesNotExistError("closed")),
    ],
)
def test_a_lost_connection_is_recognised(error: BaseException) -> None:
    assert lost_database(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.InterfaceError("another operation is in progress"),
        _raised_from(asyncpg.UniqueViolationError("duplicate key")),
    ],
)
def test_other_errors_are_not(error: BaseException) -> None:
    assert not lost_database(error)
