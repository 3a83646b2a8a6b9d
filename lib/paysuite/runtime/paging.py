"""Pages of list RPCs (AIP-158): one page-size rule and opaque, signed page tokens.

Every list RPC pages by keyset: a page token names the sort key of the last item returned (its
position) and the next page starts after it. The token also carries a digest of the request it
answered (the method and every field but page_size and page_token, so every filter, present and
future) and an HMAC-SHA256 over both under the service's key. A client can therefore neither
make a position up nor reuse a token with other filters: either is INVALID_ARGUMENT on
page_token. The position is the last item's own sort key, values the page already showed, so
the token is signed rather than encrypted; clients must still treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from google.protobuf.message import Message

from paysuite.errors import Violations

T = TypeVar("T")
A = TypeVar("A", str, int, datetime)
B = TypeVar("B", str, int, datetime)
P = TypeVar("P", bound=tuple[Any, ...])

_VERSION = 1
_MAC_BYTES = 16
_NOT_OURS = "not a page token from this API"
_OTHER_FILTERS = "the request's filters differ from those of the request that returned the token"


class ListRequest(Protocol):
    """A generated list request message (AIP-158 fields; the rest are its filters)."""

    @property
    def page_size(self) -> int: ...

    @property
    def page_token(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PageSize:
    """A list RPC's page size (or a stream's batch size): 0 means the default, more than the
    maximum is the maximum."""

    default: int
    maximum: int

    def clamp(self, requested: int, violations: Violations, field: str = "page_size") -> int:
        """The size to use; a negative one is recorded in violations against field."""
        if requested < 0:
            violations.add(field, "must not be negative")
        return min(requested or self.default, self.maximum)


@dataclass(frozen=True, slots=True)
class Page(Generic[P]):
    """One page request, read and checked: its size and the position it starts after."""

    size: int
    after: P | None
    _key: bytes
    _scope: str

    def cut(self, rows: Sequence[T], position: Callable[[T], P]) -> tuple[list[T], str]:
        """The page out of the (up to size + 1) rows fetched, and the next page's token, ""
        on the last page."""
        page = list(rows[: self.size])
        return page, self.token_after(position(page[-1]) if len(rows) > self.size else None)

    def token_after(self, position: P | None) -> str:
        """The next page's token, starting after position; "" when there is no next page."""
        return _sign(self._key, self._scope, position) if position is not None else ""


class Paging:
    """Reads the page_size and page_token of list requests and signs next_page_token."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a page token key has at least 16 bytes")
        self._key = key

    @overload
    def page(
        self, request: ListRequest, sizes: PageSize, violations: Violations, shape: tuple[type[A]]
    ) -> Page[tuple[A]]: ...

    @overload
    def page(
        self,
        request: ListRequest,
        sizes: PageSize,
        violations: Violations,
        shape: tuple[type[A], type[B]],
    ) -> Page[tuple[A, B]]: ...

    def page(
        self,
        request: ListRequest,
        sizes: PageSize,
        violations: Violations,
        shape: tuple[type[Any], ...],
    ) -> Page[Any]:
        """The page the request asks for; shape is the position's types, e.g. (datetime, str).

        A bad page_size or page_token is recorded in violations (and the page starts at the
        beginning), so the caller raises it with any other field's.
        """
        scope = _scope(request)
        after = None
        if request.page_token:
            after = _verify(self._key, scope, request.page_token, shape, violations)
        return Page(sizes.clamp(request.page_size, violations), after, self._key, scope)


def _scope(request: ListRequest) -> str:
    """A digest of what the request asks for, whatever page of it."""
    filters = copy.deepcopy(cast(Message, request))
    filters.ClearField("page_size")
    filters.ClearField("page_token")
    name = filters.DESCRIPTOR.full_name.encode()
    digest = hashlib.sha256(name + b"\0" + filters.SerializeToString(deterministic=True))
    return _b64(digest.digest()[:_MAC_BYTES])


def _sign(key: bytes, scope: str, position: tuple[Any, ...]) -> str:
    values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in position]
    body = json.dumps([_VERSION, scope, values], separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def _verify(
    key: bytes, scope: str, token: str, shape: tuple[type[Any], ...], violations: Violations
) -> tuple[Any, ...] | None:
    body_part, _, mac_part = token.partition(".")
    try:
        body, mac = _unb64(body_part), _unb64(mac_part)
    except (binascii.Error, ValueError):
        violations.add("page_token", _NOT_OURS)
        return None
    if not hmac.compare_digest(mac, _mac(key, body)):
        violations.add("page_token", _NOT_OURS)
        return None
    version, token_scope, values = json.loads(body)
    if token_scope != scope:
        violations.add("page_token", _OTHER_FILTERS)
        return None
    position = tuple(datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in values)
    if version != _VERSION or tuple(type(v) for v in position) != shape:
        violations.add("page_token", _NOT_OURS)  # signed by us, but for another sort key
        return None
    return position


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
