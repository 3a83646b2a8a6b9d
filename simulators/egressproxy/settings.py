"""Proxy settings from EGRESSPROXY_* environment variables."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Millis = Annotated[int, Field(ge=0, le=3_600_000)]


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback IP literals (127.0.0.0/8, ::1), the only allowed peers."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EgressProxySettings(BaseSettings):
    """Where the proxy and its admin endpoints listen (loopback only) and its starting faults."""

    model_config = SettingsConfigDict(
        env_prefix="EGRESSPROXY_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    name: str = Field(default="egressproxy", pattern=r"^[a-z0-9_-]{1,32}$")
    host: str = "127.0.0.1"
    port: int = Field(default=8701, ge=0, le=65535)
    admin_port: int = Field(default=8711, ge=0, le=65535)
    latency_ms: Millis = 0
    fail: bool = False
    upstream_connect_seconds: float = Field(default=5.0, gt=0, le=300)
    upstream_read_seconds: float = Field(default=120.0, gt=0, le=3600)
    # On Kubernetes (dev overlay) the proxy is a pod of its own: it listens on every address,
    # NetworkPolicies decide who reaches it, and it forwards to these host names too.
    listen_any: bool = False
    allowed_targets: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _loopback_only(self) -> Self:
        if not self.listen_any and not is_loopback(self.host):
            raise ValueError("the proxy listens on loopback only (unless EGRESSPROXY_LISTEN_ANY)")
        return self

    def allows_target(self, host: str | None) -> bool:
        """Loopback targets, and the host names the deployment named."""
        return is_loopback(host) or (host or "").lower() in self.allowed_targets
