"""Free local TCP ports for a suite started beside another (tests, benchmarks)."""

from __future__ import annotations

import socket
from collections.abc import Iterable


def free_ports(names: Iterable[str]) -> dict[str, int]:
    """One port per name, each free when asked (all held open together, so none repeats)."""
    sockets: dict[str, socket.socket] = {}
    try:
        for name in names:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets[name] = sock
        return {name: sock.getsockname()[1] for name, sock in sockets.items()}
    finally:
        for sock in sockets.values():
            sock.close()
