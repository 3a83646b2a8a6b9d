"""payctl run as a process against the real suite, as a person would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from devstack.stack import Stack


def payctl(stack: Stack, *args: str) -> Any:
    """payctl's --json answer to the command; the services' addresses come from the stack's
    environment (GATEWAY_ADDR, LEDGER_ADDR, IDENTITY_ADDR)."""
    done = subprocess.run(
        [sys.executable, "-m", "payctl", *args, "--json"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)
