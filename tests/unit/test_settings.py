"""Settings fail fast outside dev: no derived credentials, no dev secrets, no missing keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings
from identity.settings import DEV_PII_KEYS, IdentitySettings
from ledger.settings import LedgerSettings
from paysuite.runtime.settings import dev_page_token_key

SHARED = "postgresql://postgres@db:5432/paysuite"
PAGE_TOKEN_KEY = "prod-page-token-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    prefixes = ("PAYSUITE_", "DATABASE_URL", "LEDGER_", "IDENTITY_", "GATEWAY_", "RECON_")
    for name in [n for n in os.environ if n.startswith(prefixes)]:
        monkeypatch.delenv(name)
    for service in ("LEDGER", "IDENTITY", "GATEWAY"):  # set here; its own test takes it away
        monkeypatch.setenv(f"{service}_PAGE_TOKEN_KEY", PAGE_TOKEN_KEY)


def test_dev_derives_the_service_role_from_the_shared_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SHARED)
    settings = LedgerSettings()
    assert settings.dsn.startswith("postgresql://paysuite_ledger:")
    assert settings.dsn.endswith("@db:5432/paysuite")


def test_prod_is_the_default_and_requires_the_service_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", SHARED)
    with pytest.raises(ValidationError, match="LEDGER_DATABASE_URL is required"):
        LedgerSettings()


def test_prod_refuses_a_dev_or_empty_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LEDGER_DATABASE_URL", "postgresql://paysuite_ledger:paysuite_ledger_dev@db/paysuite"
    )
    with pytest.raises(ValidationError, match="empty or dev password"):
        LedgerSettings()
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://paysuite_ledger@db/paysuite")
    with pytest.raises(ValidationError, match="empty or dev password"):
        LedgerSettings()
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://paysuite_ledger:s3cr3t-x@db/p")
    assert LedgerSettings().port == 50052


def test_identity_needs_real_keys_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_DATABASE_URL", "postgresql://paysuite_identity:pw-x@db/p")
    with pytest.raises(ValidationError, match="IDENTITY_PII_KEYS"):
        IdentitySettings()
    monkeypatch.setenv("IDENTITY_PII_KEYS", DEV_PII_KEYS)
    monkeypatch.setenv("IDENTITY_BLIND_INDEX_KEY", "a" * 44)
    with pytest.raises(ValidationError, match="dev PII keys"):
        IdentitySettings()


def set_channel(monkeypatch: pytest.MonkeyPatch, name: str, kind: str, secret: str = "") -> None:
    prefix = f"GATEWAY_CHANNELS__{name.upper()}__"
    monkeypatch.setenv(prefix + "KIND", kind)
    monkeypatch.setenv(prefix + "URL", f"https://{name}.example.com")
    if secret:
        monkeypatch.setenv(prefix + "SECRET", secret)


def test_gateway_needs_its_channels_and_their_secrets_outside_dev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://paysuite_gateway:pw-x@db/p")
    monkeypatch.setenv("GATEWAY_NOTIFY_BASE_URL", "https://pay-notify.example.com")
    with pytest.raises(ValidationError, match="GATEWAY_CHANNELS__<NAME>__KIND"):
        GatewaySettings()
    set_channel(monkeypatch, "banksim", "bank")
    with pytest.raises(ValidationError, match="GATEWAY_CHANNELS__BANKSIM__SECRET is required"):
        GatewaySettings()
    set_channel(monkeypatch, "banksim", "bank", "paysuite-dev-bank-secret")
    with pytest.raises(ValidationError, match="dev secret must not be used"):
        GatewaySettings()
    set_channel(monkeypatch, "banksim", "bank", "bank-s3cret")
    set_channel(monkeypatch, "alipaysim", "alipay", "alipay-s3cret")
    set_channel(monkeypatch, "unionsim", "bank")
    with pytest.raises(ValidationError, match="GATEWAY_CHANNELS__UNIONSIM__SECRET is required"):
        GatewaySettings()
    set_channel(monkeypatch, "unionsim", "bank", "union-s3cret")
    monkeypatch.setenv("GATEWAY_CHANNELS__UNIONSIM__RETRY_ELSEWHERE_ON", '["CARD_NOT_SUPPORTED"]')
    settings = GatewaySettings()
    assert settings.channels["unionsim"].retry_elsewhere_on == {"CARD_NOT_SUPPORTED"}
    assert {name: c.kind.value for name, c in settings.channels.items()} == {
        "banksim": "bank",
        "alipaysim": "alipay",
        "unionsim": "bank",
    }
    assert settings.channels["alipaysim"].secret.get_secret_value() == "alipay-s3cret"
    assert not settings.channels["banksim"].confirm_by_query  # only where it is set
    monkeypatch.setenv("GATEWAY_CHANNELS__BANKSIM__CONFIRM_BY_QUERY", "true")
    assert GatewaySettings().channels["banksim"].confirm_by_query
    assert (settings.notify_host, settings.notify_port) == ("127.0.0.1", 50061)
    assert "union-s3cret" not in repr(settings)


def test_validation_errors_do_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LEDGER_DATABASE_URL", "postgresql://paysuite_ledger:paysuite_ledger_dev@db/paysuite"
    )
    with pytest.raises(ValidationError) as caught:
        LedgerSettings()
    assert "paysuite_ledger_dev" not in str(caught.value)
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://paysuite_ledger:s3cr3t-x@db/p")
    assert "s3cr3t-x" not in repr(LedgerSettings())


def test_gateway_needs_a_public_notify_url_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://paysuite_gateway:pw-x@db/p")
    set_channel(monkeypatch, "banksim", "bank", "bank-prod-secret")
    with pytest.raises(ValidationError, match="GATEWAY_NOTIFY_BASE_URL"):
        GatewaySettings()
    monkeypatch.setenv("GATEWAY_NOTIFY_BASE_URL", "https://pay-notify.example.com")
    assert GatewaySettings().notify_base_url == "https://pay-notify.example.com"


def test_gateway_refuses_a_malformed_channel_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SHARED)
    set_channel(monkeypatch, "banksim", "bank")
    monkeypatch.setenv("GATEWAY_CHANNELS__BANKSIM__CLOSED_WINDOWS", "23:55-24:05")
    with pytest.raises(ValidationError, match="not a window of the day"):
        GatewaySettings()
    monkeypatch.setenv("GATEWAY_CHANNELS__BANKSIM__CLOSED_WINDOWS", "23:55-00:05")
    assert GatewaySettings().channel_hours()["banksim"].closed


def test_gateway_egress_routes_and_channel_rules_are_two_files_with_two_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SHARED)
    monkeypatch.setenv("GATEWAY_ROUTES_FILE", "/etc/old/routes.json")  # names no longer read
    monkeypatch.setenv("GATEWAY_ROUTING_FILE", "/etc/old/routing.json")
    settings = GatewaySettings()
    assert (settings.egress_routes_file, settings.channel_rules_file) == (None, None)
    monkeypatch.setenv("GATEWAY_EGRESS_ROUTES_FILE", "/etc/egress-routes/routes.json")
    monkeypatch.setenv("GATEWAY_CHANNEL_RULES_FILE", "/etc/channel-rules/channel-rules.json")
    settings = GatewaySettings()
    assert settings.egress_routes_file == Path("/etc/egress-routes/routes.json")
    assert settings.channel_rules_file == Path("/etc/channel-rules/channel-rules.json")


def test_gateway_verifies_cards_only_at_a_bank_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SHARED)
    assert GatewaySettings().verify_channel == "banksim"
    monkeypatch.setenv("GATEWAY_VERIFY_CHANNEL", "alipaysim")
    with pytest.raises(ValidationError, match="is no bank channel"):
        GatewaySettings()
    monkeypatch.delenv("GATEWAY_VERIFY_CHANNEL")
    set_channel(monkeypatch, "bank_2", "bank")
    with pytest.raises(ValidationError, match="is no bank channel"):
        GatewaySettings()  # no channel named banksim any more


def test_services_with_list_rpcs_need_their_own_page_token_key_outside_dev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://paysuite_ledger:s3cr3t-x@db/p")
    monkeypatch.delenv("LEDGER_PAGE_TOKEN_KEY")
    with pytest.raises(ValidationError, match="LEDGER_PAGE_TOKEN_KEY is required outside dev"):
        LedgerSettings()
    monkeypatch.setenv("LEDGER_PAGE_TOKEN_KEY", dev_page_token_key("ledger"))
    with pytest.raises(ValidationError, match="dev key must not be used"):
        LedgerSettings()
    monkeypatch.setenv("LEDGER_PAGE_TOKEN_KEY", "too-short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        LedgerSettings()
    monkeypatch.setenv("LEDGER_PAGE_TOKEN_KEY", PAGE_TOKEN_KEY)
    assert PAGE_TOKEN_KEY not in repr(LedgerSettings())


def test_dev_signs_page_tokens_with_a_dev_key_of_each_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SHARED)
    monkeypatch.delenv("LEDGER_PAGE_TOKEN_KEY")
    monkeypatch.delenv("IDENTITY_PAGE_TOKEN_KEY")
    ledger, identity = LedgerSettings().page_token_key, IdentitySettings().page_token_key
    assert ledger.get_secret_value() == dev_page_token_key("ledger")
    assert identity.get_secret_value() == dev_page_token_key("identity")


def test_gateway_relay_and_sequencer_lingers_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSUITE_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SHARED)
    settings = GatewaySettings()
    assert (settings.outbox_linger_seconds, settings.events_linger_seconds) == (0.05, 0.01)
    monkeypatch.setenv("GATEWAY_OUTBOX_LINGER_SECONDS", "0.2")
    monkeypatch.setenv("GATEWAY_EVENTS_LINGER_SECONDS", "0")
    settings = GatewaySettings()
    assert (settings.outbox_linger_seconds, settings.events_linger_seconds) == (0.2, 0.0)
    monkeypatch.setenv("GATEWAY_EVENTS_LINGER_SECONDS", "-1")
    with pytest.raises(ValidationError, match="events_linger_seconds"):
        GatewaySettings()
