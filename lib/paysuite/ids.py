"""Time-ordered, prefixed identifiers such as "pay_0193f2c4a1b27c9e5d4f8a6b"."""

from __future__ import annotations

import os
import time


def new_id(prefix: str) -> str:
    """48 bits of milliseconds then 64 random bits, hex: sortable by creation time."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{millis:012x}{os.urandom(8).hex()}"
