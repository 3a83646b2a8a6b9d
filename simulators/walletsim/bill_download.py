"""A wallet's bill in two steps, as the real wallets serve it: the bill request is answered with
the file's download URL (bearing a token valid 30 s), and the file is then fetched from there.
The download is answered unsigned, as the wallets' file servers answer (WeChat Pay's answer names
the file's SHA1 instead); cut short when the bill_download_corrupt_rate fault says so."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from walletsim.bill_files import BillFile
from walletsim.state import WalletState


def hand_out(
    state: WalletState,
    request: web.Request,
    file: tuple[bytes, str, str],
    query: dict[str, str],
) -> tuple[str, BillFile]:
    """The download URL of the file (body, content type, name), on the wallet's own address as
    the caller reached it, with the query given and the token last; and the file handed out."""
    body, content_type, file_name = file
    token, made = state.bill_files.issue(body, content_type, file_name, time.time())
    path = state.flavour.bill_file_path
    url = request.url.origin().with_path(path).with_query({**query, "token": token})
    return str(url), made


def serve_file(
    state: WalletState, request: web.Request, gone: Callable[[], web.Response]
) -> web.Response:
    """The handed-out file the URL's token names; gone() once the URL expired or for a token
    the wallet never gave."""
    found = state.bill_files.get(request.query.get("token", ""), time.time())
    if found is None:
        return gone()
    body = found.body
    if state.wallet.dice.roll(state.wallet.faults.bill_download_corrupt_rate):
        body = body[: len(body) // 2]  # the connection dropped half way: not the file hashed
    return web.Response(
        body=body,
        headers={
            "Content-Type": found.content_type,
            "Content-Disposition": f'attachment; filename="{found.file_name}"',
        },
    )
