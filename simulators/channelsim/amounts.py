"""Integer fen arithmetic: channel fees and yuan strings, never floats."""

from __future__ import annotations

BPS_PER_UNIT = 10_000


def fee_for(amount_fen: int, fee_bps: int) -> int:
    """The fee in fen for amount_fen at fee_bps basis points, rounded half-up to the fen."""
    if amount_fen < 0 or fee_bps < 0:
        raise ValueError("amount and fee rate must not be negative")
    return (amount_fen * fee_bps + BPS_PER_UNIT // 2) // BPS_PER_UNIT


def yuan(amount_fen: int) -> str:
    """Renders fen as yuan with two decimals, e.g. 1234 -> "12.34", -5 -> "-0.05"."""
    sign = "-" if amount_fen < 0 else ""
    major, minor = divmod(abs(amount_fen), 100)
    return f"{sign}{major}.{minor:02d}"
