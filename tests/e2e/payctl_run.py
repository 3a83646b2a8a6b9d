"""payctl run as a process against the real suite, as a person would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from devstack.stack import Stack

MERCHANT = "merchant-M100001"  # the demo merchant, as `payctl --as` names it


def payctl(stack: Stack, *args: str, as_: str = "operator") -> Any:
    """payctl's --json answer to the command, called as the identity (the operator, or e.g.
    MERCHANT); the services' addresses and the CA come from the stack's environment
    (GATEWAY_ADDR, LEDGER_ADDR, IDENTITY_ADDR, PAYSUITE_PKI_DIR)."""
    done = subprocess.run(
        [sys.executable, "-m", "payctl", "--as", as_, *args, "--json"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)
