"""Ledger rows over the asyncpg connection of a unit of work, written set-at-a-time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from ledger.adapters import codec
from ledger.adapters.spec_cache import SpecCache
from ledger.domain.book import Book
from ledger.domain.model import Account, AccountSpec, AccountState, OwnerType, Totals
from ledger.domain.records import EntryRecord, SuspenseItem, SuspenseState, TransferRecord
from ledger.domain.sub_accounts import combined, sub_account_ids

# Postings take this lock shared, the day-cut exclusively: a cut waits for in-flight postings
# and every posting after it sees the new date.
BUSINESS_DATE_LOCK = 0x1ED6E4_0001


SMALL_BATCH = 64
# An entry record's leading fields are the columns a batch copies, in order; the rest
# (entry_id) the table assigns.
_ENTRY_COPY_FIELDS = 8
_ENTRY_COPY_COLUMNS = list(EntryRecord._fields[:_ENTRY_COPY_FIELDS])

_INSERT_ACCOUNT = (
    "INSERT INTO accounts (account_id, name, type, currency, owner_type, owner_id, state, "
    "debits_must_not_exceed_credits, credits_must_not_exceed_debits, overdraft_limit, "
    "suspense, debits_posted, credits_posted, created_at, sub_accounts, parent_account_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, 0, 0, $11, $12, $13)"
)


def _account_values(
    spec: AccountSpec, account_id: str, sub_accounts: int, parent: str | None, now: datetime
) -> tuple[object, ...]:
    return (
        account_id,
        spec.name,
        spec.type.value,
        spec.currency,
        spec.owner_type.value,
        spec.owner_id,
        spec.debits_must_not_exceed_credits,
        spec.credits_must_not_exceed_debits,
        spec.overdraft_limit,
        spec.suspense,
        now,
        sub_accounts,
        parent,
    )


# An account's four totals from an unnest aliased u(id, dp, cp, dpe, cpe, ...).
_SET_TOTALS = (
    "debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dpe, credits_pending = u.cpe"
)
_SMALL_INSERTS = (
    "t AS (INSERT INTO transfers (" + codec.TRANSFER_COLUMNS + ") "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::text[], $8::jsonb[], $9::date[], $10::text[], $11::text[], "
    "$12::timestamptz[], $13::timestamptz[]) RETURNING 1), "
    "e AS (INSERT INTO entries (transfer_id, account_id, side, amount, currency, "
    "balance_after, accounting_date, created_at) SELECT * FROM unnest($14::text[], "
    "$15::text[], $16::text[], $17::bigint[], $18::text[], $19::bigint[], $20::date[], "
    "$21::timestamptz[]) RETURNING 1)"
)
_SMALL_INSERT = (
    "WITH " + _SMALL_INSERTS + " SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM e)"
)
_SMALL_WRITE = (
    "WITH " + _SMALL_INSERTS + ", "
    "a AS (UPDATE accounts a SET " + _SET_TOTALS + " FROM unnest($22::text[], $23::bigint[], "
    "$24::bigint[], $25::bigint[], $26::bigint[]) AS u(id, dp, cp, dpe, cpe) "
    "WHERE a.account_id = u.id RETURNING 1) "
    "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM e), (SELECT count(*) FROM a)"
)


def _checked_totals_update(first: int) -> str:
    """UPDATE of account totals that changes a row only if it still holds the expected totals
    and state, on the expected business date; its 11 parameters start at $first."""
    n = [f"${first + i}" for i in range(11)]
    return (
        "UPDATE accounts a SET " + _SET_TOTALS + " "
        f"FROM unnest({n[0]}::text[], {n[1]}::bigint[], {n[2]}::bigint[], {n[3]}::bigint[], "
        f"{n[4]}::bigint[], {n[5]}::bigint[], {n[6]}::bigint[], {n[7]}::bigint[], "
        f"{n[8]}::bigint[], {n[9]}::text[]) "
        "AS u(id, dp, cp, dpe, cpe, odp, ocp, odpe, ocpe, ostate) "
        "WHERE a.account_id = u.id AND a.debits_posted = u.odp AND a.credits_posted = u.ocp "
        "AND a.debits_pending = u.odpe AND a.credits_pending = u.ocpe AND a.state = u.ostate "
        f"AND (SELECT business_date FROM ledger_state) = {n[10]}"
    )


_UPDATE_TOTALS_IF = _checked_totals_update(1)
_SMALL_WRITE_IF = (
    "WITH " + _SMALL_INSERTS + ", a AS (" + _checked_totals_update(22) + " RETURNING 1) "
    "SELECT count(*) FROM a"
)


def _metadata_json(metadata: dict[str, str]) -> str:
    return json.dumps(metadata) if metadata else "{}"


def _small_insert_args(book: Book) -> list[list[Any]]:
    """The parameters of _SMALL_INSERTS: the book's new transfers and entries as columns."""
    transfers, entries = book.new_transfers, book.entries
    return [
        [r.transfer_id for r in transfers],
        [r.kind.value for r in transfers],
        [r.state.value for r in transfers],
        [r.result.value for r in transfers],
        [r.content_hash for r in transfers],
        [codec.encode_postings(r.postings) for r in transfers],
        [r.description for r in transfers],
        [_metadata_json(r.metadata) for r in transfers],
        [r.accounting_date for r in transfers],
        [r.linked_transfer_id for r in transfers],
        [r.reversed_by for r in transfers],
        [r.expires_at for r in transfers],
        [r.created_at for r in transfers],
        [e.transfer_id for e in entries],
        [e.account_id for e in entries],
        [e.side for e in entries],
        [e.amount for e in entries],
        [e.currency for e in entries],
        [e.balance_after for e in entries],
        [e.accounting_date for e in entries],
        [e.created_at for e in entries],
    ]


def _checked_totals_args(
    account_ids: Sequence[str], new: Sequence[Totals], expected: Sequence[Totals], day: date
) -> list[Any]:
    """The parameters of _checked_totals_update, in its order."""
    return [
        list(account_ids),
        [t.debits_posted for t in new],
        [t.credits_posted for t in new],
        [t.debits_pending for t in new],
        [t.credits_pending for t in new],
        [t.debits_posted for t in expected],
        [t.credits_posted for t in expected],
        [t.debits_pending for t in expected],
        [t.credits_pending for t in expected],
        [t.state.value for t in expected],
        day,
    ]


def _one_statement(book: Book) -> bool:
    """Whether the book's records go in by one statement (few transfers, no suspense items)
    rather than by COPY."""
    return len(book.new_transfers) <= SMALL_BATCH and not book.new_items


def _is_small_plain_batch(book: Book) -> bool:
    """Few new transfers and nothing but transfers, entries and account totals to write."""
    return (
        len(book.new_transfers) <= SMALL_BATCH
        and not book.changed_transfers
        and not book.new_items
        and not book.changed_items
    )


class LedgerRepository:
    def __init__(self, connection: Any, specs: SpecCache | None = None) -> None:
        self._connection = connection
        self._specs = specs if specs is not None else SpecCache()

    async def _db(self) -> Any:
        return self._connection

    # -- business date ----------------------------------------------------------------------

    async def business_date_for_posting(self) -> date:
        """The date postings get; the transaction already holds the business-date lock shared
        (taken with BEGIN, see LedgerUnits.posting_batch), so this read sees no cut in flight."""
        value: date = await self._connection.fetchval("SELECT business_date FROM ledger_state")
        return value

    async def ledger_state(self) -> tuple[date, date | None]:
        db = await self._db()
        row = await db.fetchrow("SELECT business_date, last_closed_date FROM ledger_state")
        return row["business_date"], row["last_closed_date"]

    async def lock_business_date(self) -> None:
        """Exclusive: waits for in-flight postings and holds new ones until commit."""
        db = await self._db()
        await db.execute("SELECT pg_advisory_xact_lock($1)", BUSINESS_DATE_LOCK)

    async def replayed_cut(self, request_id: str) -> tuple[date, date] | None:
        db = await self._db()
        row = await db.fetchrow(
            "SELECT cut_date, business_date FROM day_cuts WHERE request_id = $1", request_id
        )
        return (row["cut_date"], row["business_date"]) if row else None

    async def advance_business_date(self, request_id: str, now: datetime) -> tuple[date, date]:
        db = await self._db()
        row = await db.fetchrow(
            "UPDATE ledger_state SET business_date = business_date + 1 "
            "RETURNING business_date - 1 AS cut, business_date AS new"
        )
        await db.execute(
            "INSERT INTO day_cuts (request_id, cut_date, business_date, created_at) "
            "VALUES ($1, $2, $3, $4)",
            request_id,
            row["cut"],
            row["new"],
            now,
        )
        return row["cut"], row["new"]

    # -- accounts ---------------------------------------------------------------------------

    async def insert_account(self, spec: AccountSpec, now: datetime) -> bool:
        """Inserts the account (and its sub-accounts) unless its id exists; True when inserted."""
        db = await self._db()
        inserted = await db.fetchval(
            _INSERT_ACCOUNT + " ON CONFLICT (account_id) DO NOTHING RETURNING true",
            *_account_values(spec, spec.account_id, spec.sub_accounts, None, now),
        )
        if inserted:
            for shard in sub_account_ids(spec.account_id, spec.sub_accounts)[1:]:
                await db.execute(
                    _INSERT_ACCOUNT, *_account_values(spec, shard, 1, spec.account_id, now)
                )
        return bool(inserted)

    async def get_account(self, account_id: str) -> Account | None:
        """The logical account: a split account's sub-accounts added up."""
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ACCOUNT_COLUMNS} FROM accounts "
            "WHERE account_id = $1 OR parent_account_id = $1 ORDER BY account_id",
            account_id,
        )
        if not rows or rows[0]["account_id"] != account_id:
            return None
        return combined([codec.account(r) for r in rows])

    async def sub_accounts_of(self, account_id: str) -> list[str]:
        """Every row behind a logical account: itself and, if split, its sub-accounts."""
        db = await self._db()
        count = await db.fetchval(
            "SELECT sub_accounts FROM accounts WHERE account_id = $1", account_id
        )
        return sub_account_ids(account_id, count or 1)

    async def list_accounts(
        self, owner_type: OwnerType | None, owner_id: str, after: str, limit: int
    ) -> list[Account]:
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ACCOUNT_COLUMNS} FROM accounts WHERE account_id > $1 "
            "AND parent_account_id IS NULL "
            "AND ($2::text IS NULL OR owner_type = $2) AND ($3 = '' OR owner_id = $3) "
            "ORDER BY account_id LIMIT $4",
            after,
            owner_type.value if owner_type else None,
            owner_id,
            limit,
        )
        found = []
        for row in rows:
            account = codec.account(row)
            if account.spec.sub_accounts > 1:
                whole = await self.get_account(account.account_id)
                assert whole is not None
                account = whole
            found.append(account)
        return found

    async def lock_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """Locks the rows in id order, so concurrent batches never deadlock."""
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ANY($1::text[]) "
            "ORDER BY account_id FOR UPDATE",
            sorted(set(account_ids)),
        )
        account = self._specs.account
        return {r["account_id"]: account(r) for r in rows}

    async def read_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """The committed rows, unlocked: a prediction that update_totals_if checks later."""
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ANY($1::text[])",
            list(account_ids),
        )
        account = self._specs.account
        return {r["account_id"]: account(r) for r in rows}

    async def update_totals_if(
        self,
        account_ids: Sequence[str],
        new: Sequence[Totals],
        expected: Sequence[Totals],
        day: date,
    ) -> bool:
        """Sets the accounts' totals to `new` if every row still holds `expected` (totals and
        state) and the business date is still `day`; False otherwise, and the caller must
        roll back (the rows that did match were written)."""
        db = await self._db()
        status: str = await db.execute(
            _UPDATE_TOTALS_IF, *_checked_totals_args(account_ids, new, expected, day)
        )
        return int(status.rsplit(" ", 1)[1]) == len(account_ids)

    async def insert_records_and_update_totals_if(
        self,
        book: Book,
        account_ids: Sequence[str],
        new: Sequence[Totals],
        expected: Sequence[Totals],
        day: date,
    ) -> bool:
        """insert_records then update_totals_if, as one statement when the book is small."""
        if not _one_statement(book):
            await self.insert_records(book)
            return await self.update_totals_if(account_ids, new, expected, day)
        db = await self._db()
        updated: int = await db.fetchval(
            _SMALL_WRITE_IF,
            *_small_insert_args(book),
            *_checked_totals_args(account_ids, new, expected, day),
        )
        return updated == len(account_ids)

    async def set_account_state(self, account_id: str, state: AccountState) -> None:
        db = await self._db()
        await db.execute(
            "UPDATE accounts SET state = $2 WHERE account_id = $1", account_id, state.value
        )

    # -- transfers --------------------------------------------------------------------------

    async def find_transfers(
        self, transfer_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, TransferRecord]:
        if not transfer_ids:
            return {}
        db = await self._db()
        suffix = " ORDER BY transfer_id FOR UPDATE" if lock else ""
        rows = await db.fetch(
            f"SELECT {codec.TRANSFER_COLUMNS} FROM transfers "
            f"WHERE transfer_id = ANY($1::text[]){suffix}",
            sorted(set(transfer_ids)),
        )
        return {r["transfer_id"]: codec.transfer(r) for r in rows}

    async def lock_items(self, item_ids: Sequence[str]) -> dict[str, SuspenseItem]:
        if not item_ids:
            return {}
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ITEM_COLUMNS} FROM suspense_items WHERE item_id = ANY($1::text[]) "
            "ORDER BY item_id FOR UPDATE",
            sorted(set(item_ids)),
        )
        return {r["item_id"]: codec.item(r) for r in rows}

    async def expired_pending(self, now: datetime, limit: int) -> list[str]:
        db = await self._db()
        rows = await db.fetch(
            "SELECT transfer_id FROM transfers WHERE state = 'pending' AND expires_at <= $1 "
            "ORDER BY expires_at LIMIT $2",
            now,
            limit,
        )
        return [r["transfer_id"] for r in rows]

    # -- writing a batch --------------------------------------------------------------------

    async def write(self, book: Book) -> None:
        """Writes everything the book changed with a handful of set-based statements."""
        db = await self._db()
        if _is_small_plain_batch(book):
            await self._write_small(db, book)
            return
        await self.insert_records(book)
        await self._update_accounts(db, [book.accounts[a] for a in sorted(book.changed_accounts)])
        await self._update_transfers(db, list(book.changed_transfers.values()))
        await self._update_items(db, list(book.changed_items.values()))

    async def insert_records(self, book: Book) -> None:
        """The book's new transfers, entries and suspense items; account totals not included."""
        db = await self._db()
        if _one_statement(book):
            await db.execute(_SMALL_INSERT, *_small_insert_args(book))
            return
        await self._insert_transfers(db, book.new_transfers)
        if book.entries:
            await db.copy_records_to_table(
                "entries",
                schema_name="ledger",
                columns=_ENTRY_COPY_COLUMNS,
                records=[e[:_ENTRY_COPY_FIELDS] for e in book.entries],
            )
        await self._insert_items(db, book.new_items)

    @staticmethod
    async def _write_small(db: Any, book: Book) -> None:
        """One round trip for a few plain transfers: inserts and updates as one statement."""
        accounts = [book.accounts[a] for a in sorted(book.changed_accounts)]
        await db.execute(
            _SMALL_WRITE,
            *_small_insert_args(book),
            [a.account_id for a in accounts],
            [a.debits_posted for a in accounts],
            [a.credits_posted for a in accounts],
            [a.debits_pending for a in accounts],
            [a.credits_pending for a in accounts],
        )

    @staticmethod
    async def _insert_transfers(db: Any, records: list[TransferRecord]) -> None:
        """Binary COPY; an id taken meanwhile raises UniqueViolationError and the batch reruns."""
        if not records:
            return
        await db.copy_records_to_table(
            "transfers",
            schema_name="ledger",
            columns=[c.strip() for c in codec.TRANSFER_COLUMNS.split(",")],
            records=[
                (
                    r.transfer_id,
                    r.kind.value,
                    r.state.value,
                    r.result.value,
                    r.content_hash,
                    codec.encode_postings(r.postings),
                    r.description,
                    _metadata_json(r.metadata),
                    r.accounting_date,
                    r.linked_transfer_id,
                    r.reversed_by,
                    r.expires_at,
                    r.created_at,
                )
                for r in records
            ],
        )

    @staticmethod
    async def _update_accounts(db: Any, accounts: list[Account]) -> None:
        if not accounts:
            return
        await db.execute(
            "UPDATE accounts a SET " + _SET_TOTALS + " "
            "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) "
            "AS u(id, dp, cp, dpe, cpe) WHERE a.account_id = u.id",
            [a.account_id for a in accounts],
            [a.debits_posted for a in accounts],
            [a.credits_posted for a in accounts],
            [a.debits_pending for a in accounts],
            [a.credits_pending for a in accounts],
        )

    @staticmethod
    async def _update_transfers(db: Any, records: list[TransferRecord]) -> None:
        if not records:
            return
        await db.execute(
            "UPDATE transfers t SET state = u.state, reversed_by = u.reversed_by "
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, state, reversed_by) "
            "WHERE t.transfer_id = u.id",
            [r.transfer_id for r in records],
            [r.state.value for r in records],
            [r.reversed_by for r in records],
        )

    @staticmethod
    async def _insert_items(db: Any, items: list[SuspenseItem]) -> None:
        if not items:
            return
        await db.executemany(
            f"INSERT INTO suspense_items ({codec.ITEM_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [
                (
                    i.item_id,
                    i.suspense_account_id,
                    i.currency,
                    i.amount,
                    i.transfer_id,
                    i.description,
                    i.accounting_date,
                    i.state.value,
                    i.cleared_by,
                    i.clear_reason,
                    i.business_reference,
                    i.created_at,
                )
                for i in items
            ],
        )

    @staticmethod
    async def _update_items(db: Any, items: list[SuspenseItem]) -> None:
        if not items:
            return
        await db.executemany(
            "UPDATE suspense_items SET state = $2, cleared_by = $3, clear_reason = $4, "
            "business_reference = $5 WHERE item_id = $1",
            [
                (i.item_id, i.state.value, i.cleared_by, i.clear_reason, i.business_reference)
                for i in items
            ],
        )

    # -- reading history --------------------------------------------------------------------

    async def get_transfer(self, transfer_id: str) -> TransferRecord | None:
        found = await self.find_transfers([transfer_id])
        return found.get(transfer_id)

    async def list_entries(
        self, account_ids: list[str], after_entry_id: int, limit: int
    ) -> list[EntryRecord]:
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ENTRY_COLUMNS} FROM entries WHERE account_id = ANY($1::text[]) "
            "AND entry_id > $2 ORDER BY entry_id LIMIT $3",
            account_ids,
            after_entry_id,
            limit,
        )
        return [codec.entry(r) for r in rows]

    async def entries_of_date(
        self, account_ids: list[str], day: date, after_entry_id: int, limit: int
    ) -> list[EntryRecord]:
        """The accounts' entries of one accounting date after an entry id, oldest first."""
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ENTRY_COLUMNS} FROM entries WHERE account_id = ANY($1::text[]) "
            "AND accounting_date = $2 AND entry_id > $3 ORDER BY entry_id LIMIT $4",
            account_ids,
            day,
            after_entry_id,
            limit,
        )
        return [codec.entry(r) for r in rows]

    async def last_entry_by_date(self, account_id: str, day: date) -> EntryRecord | None:
        db = await self._db()
        row = await db.fetchrow(
            # Accounting dates never decrease along entry ids (the day-cut waits for postings).
            f"SELECT {codec.ENTRY_COLUMNS} FROM entries WHERE account_id = $1 "
            "AND accounting_date <= $2 ORDER BY entry_id DESC LIMIT 1",
            account_id,
            day,
        )
        return codec.entry(row) if row else None

    async def last_entry_by_time(self, account_id: str, at: datetime) -> EntryRecord | None:
        db = await self._db()
        row = await db.fetchrow(
            f"SELECT {codec.ENTRY_COLUMNS} FROM entries WHERE account_id = $1 AND created_at <= $2 "
            "ORDER BY entry_id DESC LIMIT 1",
            account_id,
            at,
        )
        return codec.entry(row) if row else None

    async def feed(
        self, after_txid: int, after_entry_id: int, account_ids: list[str], limit: int
    ) -> list[tuple[int, EntryRecord]]:
        """Entries past a position, only from transactions older than every running one."""
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ENTRY_COLUMNS}, txid::text::bigint AS tx FROM entries e "
            "WHERE (e.txid, e.entry_id) > ($1::text::xid8, $2) "
            "AND e.txid < pg_snapshot_xmin(pg_current_snapshot()) "
            "AND (cardinality($3::text[]) = 0 OR e.account_id = ANY($3::text[])) "
            "ORDER BY e.txid, e.entry_id LIMIT $4",
            str(after_txid),
            after_entry_id,
            account_ids,
            limit,
        )
        return [(r["tx"], codec.entry(r)) for r in rows]

    async def list_items(
        self, state: SuspenseState | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[SuspenseItem]:
        db = await self._db()
        rows = await db.fetch(
            f"SELECT {codec.ITEM_COLUMNS} FROM suspense_items "
            "WHERE ($1::text IS NULL OR state = $1) "
            "AND ($2::timestamptz IS NULL OR (created_at, item_id) > ($2, $3)) "
            "ORDER BY created_at, item_id LIMIT $4",
            state.value if state else None,
            after[0] if after else None,
            after[1] if after else "",
            limit,
        )
        return [codec.item(r) for r in rows]

    async def get_item(self, item_id: str) -> SuspenseItem | None:
        db = await self._db()
        row = await db.fetchrow(
            f"SELECT {codec.ITEM_COLUMNS} FROM suspense_items WHERE item_id = $1", item_id
        )
        return codec.item(row) if row else None
