"""Ledger adapters: Postgres tables and repositories."""
