"""HMAC-SHA256 signing of HTTP bodies, shared by the bank simulator and the gateway."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets

SIGNATURE_HEADER = "X-Bank-Signature"
DEFAULT_MAX_SKEW = 300

SIGN_ERROR = "SIGN_ERROR"
SIGN_EXPIRED = "SIGN_EXPIRED"
REPLAYED = "REPLAYED"

# No "." or "," in a nonce: the MAC input f"{t}.{n}." + body must split one way only.
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_MAC_RE = re.compile(r"^[0-9a-f]{64}$")


class SignatureError(Exception):
    """A signature header was missing, malformed, wrong (SIGN_ERROR) or too old (SIGN_EXPIRED)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_nonce() -> str:
    """A fresh random nonce that satisfies the header grammar."""
    return secrets.token_hex(16)


def _mac(secret: bytes, timestamp: int, nonce: str, body: bytes) -> str:
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, *, now: int, nonce: str) -> str:
    """Returns the X-Bank-Signature header value `t=<now>,n=<nonce>,s=<hex mac>` for body."""
    if not _NONCE_RE.match(nonce):
        raise ValueError("nonce must be 8-64 characters of [A-Za-z0-9_-]")
    if now < 0:
        raise ValueError("timestamp must not be negative")
    return f"t={now},n={nonce},s={_mac(secret, now, nonce, body)}"


def _parse(header: str) -> tuple[int, str, str]:
    fields: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key in fields:
            raise SignatureError(SIGN_ERROR)
        fields[key] = value
    if set(fields) != {"t", "n", "s"}:
        raise SignatureError(SIGN_ERROR)
    t, n, s = fields["t"], fields["n"], fields["s"].lower()
    if not (_TIMESTAMP_RE.match(t) and _NONCE_RE.match(n) and _MAC_RE.match(s)):
        raise SignatureError(SIGN_ERROR)
    return int(t), n, s


def verify(
    secret: bytes, body: bytes, header: str, *, now: int, max_skew: int = DEFAULT_MAX_SKEW
) -> tuple[int, str]:
    """Checks header against body; returns (timestamp, nonce) or raises SignatureError.

    The MAC is checked before the clock so an unauthenticated caller learns nothing but
    SIGN_ERROR. Replay tracking of the returned nonce is the caller's job (see NonceCache).
    """
    timestamp, nonce, mac = _parse(header)
    if not hmac.compare_digest(mac, _mac(secret, timestamp, nonce, body)):
        raise SignatureError(SIGN_ERROR)
    if abs(now - timestamp) > max_skew:
        raise SignatureError(SIGN_EXPIRED)
    return timestamp, nonce


class NonceCache:
    """Nonces seen recently; each is kept until its timestamp leaves the accepted window."""

    def __init__(self, max_skew: int = DEFAULT_MAX_SKEW) -> None:
        self._max_skew = max_skew
        self._expiry: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def check_and_add(self, nonce: str, *, timestamp: int, now: int) -> bool:
        """Records nonce; returns False if it was already seen within the window (a replay)."""
        self._purge(now)
        if nonce in self._expiry:
            return False
        expires = timestamp + self._max_skew
        self._expiry[nonce] = expires
        heapq.heappush(self._heap, (expires, nonce))
        return True

    def _purge(self, now: int) -> None:
        while self._heap and self._heap[0][0] < now:
            expires, nonce = heapq.heappop(self._heap)
            if self._expiry.get(nonce) == expires:
                del self._expiry[nonce]
