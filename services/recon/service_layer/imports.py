"""Importing a channel's statement file: read it line by line into recon's schema, once a day.

The file has arrived whole (hashed as it came); it is read in batches off the event loop and
copied in as it is read, so no more of it than a batch is ever held. A file already imported
for the day (by its hash) is that import, whatever came after: sent again after a corrected
file replaced it, it changes nothing and the corrected file stays the day's current import.
Another file replaces the day's import, in one transaction: a file that cannot be read at all
leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Protocol

from paysuite.errors import DomainError, ErrorKind, FieldViolation, InvalidArgument
from paysuite.ids import new_id
from recon.domain.statement_totals import Check, StatementImport, Tally
from recon.domain.statements import (
    ColumnMapping,
    Rejection,
    StatementFormat,
    StatementLine,
    StatementRefused,
)
from recon.service_layer.unit_of_work import StatementUnitOfWorkFactory

# Lines read per step off the event loop (and copied in per batch).
BATCH_LINES = 5000


class Upload(Protocol):
    """An uploaded file, whole: its hash and size, and its bytes from the start."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...

    def open(self) -> IO[bytes]: ...


class Spool(Upload, Protocol):
    """A file being received: written chunk by chunk, then read as an upload."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class StatementReader(Protocol):
    """An importer over one file (recon.adapters.statements): its items, then its checks."""

    checks: list[Check]

    def __iter__(self) -> Iterator[StatementLine | Rejection]: ...


ReaderFactory = Callable[[StatementFormat, IO[bytes], ColumnMapping | None], StatementReader]


class StatementUnreadable(InvalidArgument):
    """The file cannot be read at all in the format named; nothing was written."""

    reason = "STATEMENT_UNREADABLE"


class StatementInvalid(DomainError):
    """The channel's statement of a date cannot be used (a file fetched from the channel that
    cannot be read in its format, malformed or cut short in the download; or none to be had):
    the channel's fault or the date's state, not the caller's request; nothing was written."""

    kind = ErrorKind.FAILED_PRECONDITION
    reason = "STATEMENT_INVALID"


@dataclass(frozen=True, slots=True)
class ImportStatement:
    channel: str
    format: StatementFormat
    statement_date: date
    mapping: ColumnMapping | None = None


@dataclass(frozen=True, slots=True)
class Imported:
    """The import made of a file (now, or before: replayed) and the day's current import: the
    file's own, unless it had been imported before and a later file of the day replaced it."""

    file: StatementImport
    replayed: bool
    current: StatementImport

    @property
    def is_current(self) -> bool:
        return self.file.import_id == self.current.import_id


async def _batches(lines: Iterator[StatementLine]) -> AsyncIterator[list[StatementLine]]:
    """The lines a batch at a time, each read in a worker thread (reading is all CPU)."""
    while batch := await asyncio.to_thread(lambda: list(itertools.islice(lines, BATCH_LINES))):
        yield batch


async def import_statement(
    uow: StatementUnitOfWorkFactory,
    open_reader: ReaderFactory,
    command: ImportStatement,
    upload: Upload,
    clock: Callable[[], datetime],
) -> Imported:
    """The file's import, whether it had been imported for the day already (replayed: nothing
    written, even when a later file has replaced it since), and the day's current import."""
    async with uow() as work:
        await work.repo.lock_day(command.channel, command.statement_date)
        current = await work.repo.current_import(command.channel, command.statement_date)
        if current is not None and current.file_sha256 == upload.sha256:
            return Imported(current, True, current)
        earlier = await work.repo.import_of_file(
            command.channel, command.statement_date, upload.sha256
        )
        if earlier is not None:
            # An older file sent again after a correction: not a new correction.
            return Imported(earlier, True, current or earlier)
        import_id = new_id("imp")
        tally = Tally()
        reader = open_reader(command.format, upload.open(), command.mapping)
        try:
            await work.repo.add_lines(import_id, _batches(tally.count(reader)))
        except StatementRefused as exc:
            raise StatementUnreadable(
                [FieldViolation("chunk", str(exc))],
                f"the file cannot be read as {command.format.value}: {exc}",
            ) from None
        if current is not None:
            await work.repo.replace(current.import_id)
        imported = StatementImport(
            import_id=import_id,
            channel=command.channel,
            format=command.format,
            statement_date=command.statement_date,
            file_sha256=upload.sha256,
            file_bytes=upload.size,
            summary=tally.summary(reader.checks),
            replaces=current.import_id if current else "",
            created_at=clock(),
        )
        await work.repo.add_import(imported)
        await work.commit()
    return Imported(imported, False, imported)


async def import_fetched(
    uow: StatementUnitOfWorkFactory,
    open_reader: ReaderFactory,
    new_spool: Callable[[], Spool],
    command: ImportStatement,
    chunks: AsyncIterator[bytes],
    clock: Callable[[], datetime],
) -> StatementImport:
    """A statement file fetched from its channel, received whole and then imported; the day's
    current import after it (a file imported before is that import, and a later file that
    replaced it stays current)."""
    spool = new_spool()
    try:
        async for chunk in chunks:
            spool.write(chunk)
        imported = (await import_statement(uow, open_reader, command, spool, clock)).current
    except StatementUnreadable as exc:
        metadata = {
            "channel": command.channel,
            "statement_date": command.statement_date.isoformat(),
        }
        raise StatementInvalid(str(exc), metadata=metadata) from None
    finally:
        spool.close()
    return imported
