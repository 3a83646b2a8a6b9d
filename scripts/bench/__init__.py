"""Helpers of scripts/bench_ledger.py, one job per module."""
