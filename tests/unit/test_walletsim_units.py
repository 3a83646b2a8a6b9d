"""Wallet simulator pieces without a server: yuan amounts, notify targets, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from walletsim.alipay import parse_yuan
from walletsim.notifier import loopback_url
from walletsim.settings import Flavour, WalletSimSettings


@pytest.mark.parametrize(("text", "fen"), [("12.34", 1234), ("0.01", 1), ("7", 700), ("7.5", 750)])
def test_yuan_strings_become_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["0", "0.00", "1.234", "-1.00", "+1", "1e3", ".5", "1.", " 1"])
def test_bad_yuan_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_yuan(text)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:50061/notify/alipaysim", True),
        ("https://localhost/notify", True),
        ("http://[::1]:8080/n", True),
        ("http://127.8.9.10/n", True),
        ("http://example.com/notify", False),
        ("http://10.0.0.1/notify", False),
        ("ftp://127.0.0.1/notify", False),
        ("http://127.0.0.1:notaport/n", False),
        ("", False),
    ],
)
def test_only_loopback_notify_targets(url: str, ok: bool) -> None:
    assert loopback_url(url) is ok


def test_settings_need_a_secret_and_pick_the_flavours_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("WALLETSIM_SECRET", "WALLETSIM_PORT", "WALLETSIM_FLAVOUR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError):
        WalletSimSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("WALLETSIM_SECRET", "s3cret")
    monkeypatch.setenv("WALLETSIM_FLAVOUR", "wechat")
    settings = WalletSimSettings()  # type: ignore[call-arg]
    assert (settings.flavour, settings.listen_port, settings.channel) == (
        Flavour.WECHAT,
        8603,
        "wechatsim",
    )
    assert "s3cret" not in repr(settings)
