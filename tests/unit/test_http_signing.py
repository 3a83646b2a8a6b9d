"""Pure tests of the bank channel's body signatures and replay cache."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from paysuite.http_signing import (
    SIGN_ERROR,
    SIGN_EXPIRED,
    NonceCache,
    SignatureError,
    new_nonce,
    sign,
    verify,
)

SECRET = b"test-shared-secret"
BODY = b'{"mch_id":"PAYSUITE01","out_trade_no":"P1","amount":1234}'
NOW = 1_700_000_000
NONCE = "nonce-0001"


def _fields(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(","))


def _code(exc: pytest.ExceptionInfo[SignatureError]) -> str:
    return exc.value.code


def test_header_is_hmac_sha256_over_timestamp_nonce_and_body() -> None:
    header = sign(SECRET, BODY, now=NOW, nonce=NONCE)

    expected = hmac.new(SECRET, f"{NOW}.{NONCE}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},n={NONCE},s={expected}"


def test_verify_accepts_own_signature_and_returns_timestamp_and_nonce() -> None:
    header = sign(SECRET, BODY, now=NOW, nonce=NONCE)

    assert verify(SECRET, BODY, header, now=NOW) == (NOW, NONCE)


def test_verify_accepts_uppercase_hex_and_spaces_after_commas() -> None:
    fields = _fields(sign(SECRET, BODY, now=NOW, nonce=NONCE))
    header = f"t={fields['t']}, n={fields['n']}, s={fields['s'].upper()}"

    assert verify(SECRET, BODY, header, now=NOW) == (NOW, NONCE)


def test_empty_body_can_be_signed_and_verified() -> None:
    header = sign(SECRET, b"", now=NOW, nonce=NONCE)

    assert verify(SECRET, b"", header, now=NOW) == (NOW, NONCE)
    with pytest.raises(SignatureError) as exc:
        verify(SECRET, b"{}", header, now=NOW)
    assert _code(exc) == SIGN_ERROR


@pytest.mark.parametrize(
    "tampered",
    [
        BODY.replace(b"1234", b"1235"),
        BODY + b" ",
        BODY[:-1],
        b"",
    ],
)
def test_tampered_body_is_rejected(tampered: bytes) -> None:
    header = sign(SECRET, BODY, now=NOW, nonce=NONCE)

    with pytest.raises(SignatureError) as exc:
        verify(SECRET, tampered, header, now=NOW)
    assert _code(exc) == SIGN_ERROR


def test_wrong_secret_is_rejected() -> None:
    header = sign(b"another-secret", BODY, now=NOW, nonce=NONCE)

    with pytest.raises(SignatureError) as exc:
        verify(SECRET, BODY, header, now=NOW)
    assert _code(exc) == SIGN_ERROR


def test_changing_timestamp_or_nonce_breaks_the_signature() -> None:
    fields = _fields(sign(SECRET, BODY, now=NOW, nonce=NONCE))

    for header in (
        f"t={NOW + 1},n={fields['n']},s={fields['s']}",
        f"t={fields['t']},n=nonce-0002,s={fields['s']}",
    ):
        with pytest.raises(SignatureError) as exc:
            verify(SECRET, BODY, header, now=NOW)
        assert _code(exc) == SIGN_ERROR


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW},n={NONCE}",
        f"t={NOW},n={NONCE},s=",
        f"t={NOW},n={NONCE},s=zz",
        f"t=-5,n={NONCE},s={'0' * 64}",
        f"t=abc,n={NONCE},s={'0' * 64}",
        f"t={NOW},n=a.b.cdefgh,s={'0' * 64}",
        f"t={NOW},t={NOW},n={NONCE},s={'0' * 64}",
        f"t={NOW},n={NONCE},s={'0' * 64},x=1",
    ],
)
def test_malformed_header_is_a_sign_error(header: str) -> None:
    with pytest.raises(SignatureError) as exc:
        verify(SECRET, BODY, header, now=NOW)
    assert _code(exc) == SIGN_ERROR


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_within_300_seconds_are_accepted(offset: int) -> None:
    header = sign(SECRET, BODY, now=NOW + offset, nonce=NONCE)

    assert verify(SECRET, BODY, header, now=NOW) == (NOW + offset, NONCE)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_timestamps_more_than_300_seconds_off_are_expired(offset: int) -> None:
    header = sign(SECRET, BODY, now=NOW + offset, nonce=NONCE)

    with pytest.raises(SignatureError) as exc:
        verify(SECRET, BODY, header, now=NOW)
    assert _code(exc) == SIGN_EXPIRED


def test_max_skew_is_configurable() -> None:
    header = sign(SECRET, BODY, now=NOW - 61, nonce=NONCE)

    with pytest.raises(SignatureError) as exc:
        verify(SECRET, BODY, header, now=NOW, max_skew=60)
    assert _code(exc) == SIGN_EXPIRED


def test_bad_mac_is_reported_as_sign_error_even_when_also_expired() -> None:
    header = sign(b"another-secret", BODY, now=NOW - 1000, nonce=NONCE)

    with pytest.raises(SignatureError) as exc:
        verify(SECRET, BODY, header, now=NOW)
    assert _code(exc) == SIGN_ERROR


@pytest.mark.parametrize("nonce", ["", "short", "has.dot-inside", "comma,nonce", "x" * 65])
def test_sign_refuses_nonces_that_would_make_the_header_ambiguous(nonce: str) -> None:
    with pytest.raises(ValueError):
        sign(SECRET, BODY, now=NOW, nonce=nonce)


def test_new_nonces_are_valid_and_distinct() -> None:
    nonces = {new_nonce() for _ in range(100)}

    assert len(nonces) == 100
    for nonce in nonces:
        assert verify(SECRET, BODY, sign(SECRET, BODY, now=NOW, nonce=nonce), now=NOW)[1] == nonce


def test_nonce_cache_rejects_a_repeat_within_the_window() -> None:
    cache = NonceCache(max_skew=300)

    assert cache.check_and_add("nonce-a", timestamp=NOW, now=NOW)
    assert not cache.check_and_add("nonce-a", timestamp=NOW, now=NOW + 300)
    assert cache.check_and_add("nonce-b", timestamp=NOW, now=NOW + 1)


def test_nonce_cache_forgets_nonces_once_their_timestamp_has_expired() -> None:
    cache = NonceCache(max_skew=300)
    cache.check_and_add("nonce-a", timestamp=NOW, now=NOW)
    cache.check_and_add("nonce-b", timestamp=NOW + 200, now=NOW + 200)

    # At NOW + 301 a request stamped NOW would fail as expired anyway, so nonce-a can go.
    assert cache.check_and_add("nonce-c", timestamp=NOW + 301, now=NOW + 301)
    assert len(cache) == 2
    assert not cache.check_and_add("nonce-b", timestamp=NOW + 200, now=NOW + 301)
    assert cache.check_and_add("nonce-a", timestamp=NOW + 301, now=NOW + 301)


def test_nonce_cache_keeps_future_stamped_nonces_until_their_own_window_ends() -> None:
    cache = NonceCache(max_skew=300)
    cache.check_and_add("nonce-a", timestamp=NOW + 300, now=NOW)

    assert not cache.check_and_add("nonce-a", timestamp=NOW + 300, now=NOW + 600)
    assert cache.check_and_add("nonce-a", timestamp=NOW + 601, now=NOW + 601)
