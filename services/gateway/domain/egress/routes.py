"""Egress route configuration: the routes file's routes, validated, and the direct defaults."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_ROUTE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHANNEL_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
_REGION_RE = re.compile(r"^[A-Za-z0-9._-]{0,32}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_ROUTE_KEYS = frozenset({"route_id", "channel", "proxy", "region", "weight"})
MAX_WEIGHT = 1000
MAX_ROUTES = 64


class RouteConfigError(ValueError):
    """A route configuration that must not be used; the message never repeats a proxy URL."""


def redact_proxy(proxy: str | None) -> str:
    """A proxy URL as scheme://host:port, without credentials; "" for a direct route."""
    if not proxy:
        return ""
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One configured way out to a channel: through an HTTP proxy, or direct when proxy is None.

    The proxy URL may carry credentials, so it stays out of repr; show proxy_label instead.
    """

    route_id: str
    channel: str
    proxy: str | None = field(default=None, repr=False)
    region: str = ""
    weight: int = 1

    @property
    def proxy_label(self) -> str:
        return redact_proxy(self.proxy)


def default_routes(channels: Iterable[str]) -> list[RouteSpec]:
    """One direct route per channel, named "<channel>-direct"."""
    return [RouteSpec(f"{c}-direct", c, None) for c in dict.fromkeys(channels)]


def _key_names(keys: Iterable[object]) -> str:
    names = [k if isinstance(k, str) and _KEY_RE.match(k) else "?" for k in keys]
    return ", ".join(sorted(names))


def _check_proxy(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RouteConfigError(f"{where}.proxy: must be a URL string or null")
    # Messages below never repeat the URL: it may carry credentials.
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise RouteConfigError(f"{where}.proxy: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RouteConfigError(f"{where}.proxy: must be http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or port == 0:
        raise RouteConfigError(f"{where}.proxy: must be http(s)://host[:port], nothing more")
    return value


def _route(item: object, where: str, channels: Collection[str]) -> RouteSpec:
    if not isinstance(item, dict):
        raise RouteConfigError(f"{where}: must be an object")
    unknown = set(item) - _ROUTE_KEYS
    if unknown:
        raise RouteConfigError(f"{where}: unknown field(s) {_key_names(unknown)}")
    route_id = item.get("route_id")
    if not isinstance(route_id, str) or not _ROUTE_ID_RE.match(route_id):
        raise RouteConfigError(f"{where}.route_id: 1-64 letters, digits, '.', '_' or '-'")
    channel = item.get("channel")
    if not isinstance(channel, str) or not _CHANNEL_RE.match(channel):
        raise RouteConfigError(f"{where}.channel: 1-32 lowercase letters, digits, '_' or '-'")
    if channels and channel not in channels:
        raise RouteConfigError(f"{where}.channel: {channel!r} is not a channel of this gateway")
    region = item.get("region", "")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise RouteConfigError(f"{where}.region: at most 32 letters, digits, '.', '_' or '-'")
    weight = item.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
        raise RouteConfigError(f"{where}.weight: an integer from 1 to {MAX_WEIGHT}")
    proxy = _check_proxy(item.get("proxy"), where)
    return RouteSpec(route_id, channel, proxy, region, weight)


def parse_routes(
    document: object, channels: Collection[str] = (), *, every_channel: bool = True
) -> list[RouteSpec]:
    """Routes from a parsed routes file; when channels are given, routes name only those, and
    with every_channel each of them needs a route.

    `{"routes": [{"route_id", "channel", "proxy" (URL or null for direct), "region", "weight"}]}`
    """
    if not isinstance(document, dict):
        raise RouteConfigError("the routes file must hold a JSON object")
    unknown = set(document) - {"routes"}
    if unknown:
        raise RouteConfigError(f"unknown top-level field(s) {_key_names(unknown)}")
    items = document.get("routes")
    if not isinstance(items, list) or not items:
        raise RouteConfigError("routes: must be a non-empty list")
    if len(items) > MAX_ROUTES:
        raise RouteConfigError(f"routes: at most {MAX_ROUTES}")
    specs: list[RouteSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        spec = _route(item, f"routes[{index}]", channels)
        if spec.route_id in seen:
            raise RouteConfigError(f"routes[{index}].route_id: {spec.route_id!r} is used twice")
        seen.add(spec.route_id)
        specs.append(spec)
    missing = [c for c in channels if c not in {s.channel for s in specs}]
    if missing and every_channel:
        raise RouteConfigError(f"no route for channel(s) {', '.join(sorted(missing))}")
    return specs
