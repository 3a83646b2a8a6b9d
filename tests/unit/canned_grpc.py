"""A canned gRPC servicer served on 127.0.0.1 in a thread of its own, for payctl's tests (payctl
runs asyncio.run itself, so the server cannot share its loop)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator

import grpc

from devstack.pki import DevCA
from paysuite.runtime.identities import service
from paysuite.runtime.tls import server_credentials


@contextlib.contextmanager
def serving_in_thread(register: Callable[[grpc.aio.Server], None]) -> Iterator[str]:
    """Starts a server with what `register` adds to it; yields its address."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        register(server)
        # Mutual TLS as the real services serve it, with the session's CA (PAYSUITE_PKI_DIR).
        files = DevCA.from_environment().files(service("gateway"))
        port = server.add_secure_port("127.0.0.1:0", server_credentials(files))
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
