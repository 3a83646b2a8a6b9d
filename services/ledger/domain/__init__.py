"""Ledger domain: accounts, transfers and the rules that keep the books balanced."""
