"""Shared by the bank simulator's tests: its settings for a test run, and a signed reply."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from channelsim.settings import ChannelSimSettings
from paysuite.http_signing import SIGNATURE_HEADER, verify


def simulator_settings(secret: str, merchant_id: str, **overrides: Any) -> ChannelSimSettings:
    """A quiet, seeded simulator on a free port with every fault off unless overridden."""
    values: dict[str, Any] = {
        "secret": SecretStr(secret),
        "host": "127.0.0.1",
        "port": 0,
        "merchant_id": merchant_id,
        "state_file": None,
        "seed": 7,
        "latency_ms": 0,
        "decline_rate": 0.0,
        "timeout_rate": 0.0,
        "error_rate": 0.0,
        "processing_rate": 0.0,
        "verify_error_rate": 0.0,
    }
    values.update(overrides)
    return ChannelSimSettings(**values)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    secret: str = field(default="", repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

    def assert_signed(self) -> None:
        header = self.headers.get(SIGNATURE_HEADER)
        assert header, "bank response is not signed"
        verify(self.secret.encode(), self.body, header, now=int(time.time()))
