"""Bill files handed out by download URL, as the real wallets do it: the bill request answers
where to fetch the file (WeChat Pay adds its SHA1), and the file is fetched from there while the
URL is valid (30 s, as both wallets state). The file is made when the URL is asked for, so what
is downloaded is what the hash names, however the day changes meanwhile."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

VALID_SECONDS = 30.0
MAX_FILES = 256  # handed out and not yet expired; the oldest go first beyond it


@dataclass(frozen=True)
class BillFile:
    """One handed-out bill file: its bytes, how it is served, and until when."""

    body: bytes
    content_type: str
    file_name: str
    expires_at: float

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.body, usedforsecurity=False).hexdigest()


class BillFiles:
    """The bill files whose download URLs are valid, by their URL's token."""

    def __init__(self) -> None:
        self._files: dict[str, BillFile] = {}

    def issue(
        self, body: bytes, content_type: str, file_name: str, now: float
    ) -> tuple[str, BillFile]:
        """A new token for the file (expired files dropped): the URL's secret part."""
        live = [(t, f) for t, f in self._files.items() if f.expires_at > now]
        self._files = dict(live[-(MAX_FILES - 1) :])
        token = secrets.token_urlsafe(24)
        made = BillFile(body, content_type, file_name, now + VALID_SECONDS)
        self._files[token] = made
        return token, made

    def get(self, token: str, now: float) -> BillFile | None:
        """The file the token names while its URL is valid; None otherwise."""
        found = self._files.get(token)
        return found if found is not None and found.expires_at > now else None
