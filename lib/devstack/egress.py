"""The dev suite's egress proxies: two routes to the bank at different latency and one to each
wallet, each an egressproxy process, and the routes file that points the gateway at them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProxyRoute:
    """One egress route served by its own proxy process."""

    route_id: str
    channel: str
    region: str
    port: int
    admin_port: int
    latency_ms: int = 0

    @property
    def process(self) -> str:
        return f"egress-{self.route_id}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What the route's egressproxy process is started with."""
        return {
            "EGRESSPROXY_NAME": self.process,
            "EGRESSPROXY_PORT": str(self.port),
            "EGRESSPROXY_ADMIN_PORT": str(self.admin_port),
            "EGRESSPROXY_LATENCY_MS": str(self.latency_ms),
        }


def dev_routes(ports: Sequence[int] | None = None) -> list[ProxyRoute]:
    """The bank twice, so that routing by measured latency and failover can be watched with
    `payctl routes`, and each wallet once. Ports: a proxy and an admin port per route, in
    order (default 8701-8704, admin 8711-8714)."""
    shapes = [
        ("banksim-east", "banksim", "cn-east", 0),
        ("banksim-north", "banksim", "cn-north", 40),
        ("alipaysim-east", "alipaysim", "cn-east", 0),
        ("wechatsim-east", "wechatsim", "cn-east", 0),
    ]
    if ports is None:
        ports = [p for i in range(len(shapes)) for p in (8701 + i, 8711 + i)]
    return [
        ProxyRoute(route_id, channel, region, ports[2 * i], ports[2 * i + 1], latency)
        for i, (route_id, channel, region, latency) in enumerate(shapes)
    ]


def write_routes_file(path: Path, routes: list[ProxyRoute]) -> Path:
    """The gateway's GATEWAY_EGRESS_ROUTES_FILE for these routes."""
    document: Mapping[str, object] = {
        "routes": [
            {
                "route_id": r.route_id,
                "channel": r.channel,
                "proxy": r.proxy_url,
                "region": r.region,
                "weight": 1,
            }
            for r in routes
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
