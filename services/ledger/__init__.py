"""Ledger: the double-entry book of record."""
