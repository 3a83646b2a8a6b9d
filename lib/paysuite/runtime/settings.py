"""Typed settings from the environment, failing fast on missing or insecure values outside dev."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paysuite.runtime.dsn import dev_service_password, service_role, with_credentials
from paysuite.runtime.tls import TlsFiles

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEV_PKI_DIR = PROJECT_ROOT / ".data" / "pki"


class Environment(enum.StrEnum):
    """Where the suite runs; only dev and test accept derived credentials."""

    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class CommonSettings(BaseSettings):
    """Settings shared by every service; subclasses add a prefix and their own fields."""

    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )

    paysuite_env: Environment = Field(default=Environment.PROD, validation_alias="PAYSUITE_ENV")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    traces_file: Path = Field(
        default=PROJECT_ROOT / ".data" / "traces.jsonl", validation_alias="PAYSUITE_TRACES_FILE"
    )
    log_level: str = Field(default="INFO", validation_alias="PAYSUITE_LOG_LEVEL")
    shutdown_grace_seconds: float = Field(
        default=5.0, validation_alias="PAYSUITE_SHUTDOWN_GRACE_SECONDS"
    )
    # A span per database query (asyncpg instrumentation: the statement, never its values).
    db_spans: bool = Field(default=False, validation_alias="PAYSUITE_DB_SPANS")

    @property
    def is_dev(self) -> bool:
        return self.paysuite_env in (Environment.DEV, Environment.TEST)


class ServiceSettings(CommonSettings):
    """A gRPC service with its own Postgres schema and role."""

    service_name: str = ""
    port: int = 0
    host: str = "[::]"
    database_url: SecretStr | None = None
    shared_database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    db_pool_size: int = 10
    # Mutual TLS: the suite's CA, this service's certificate and its key, as files re-read when
    # rotated. Unset, each is taken from PAYSUITE_PKI_DIR as the dev CA lays them out:
    # ca.pem, <service>.pem, <service>.key.
    pki_dir: Path = Field(default=DEV_PKI_DIR, validation_alias="PAYSUITE_PKI_DIR")
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Who may call which RPC; unset: the policy.toml shipped with the service.
    policy_file: Path | None = None
    # A plaintext port serving only health checks, for probes that cannot present a client
    # certificate (Kubernetes' grpc probes); unset: none.
    health_port: int | None = Field(default=None, ge=0, le=65535)
    # Server reflection for authenticated callers (grpcurl); switch off where not wanted.
    reflection: bool = True

    @property
    def tls_files(self) -> TlsFiles:
        dev = TlsFiles.in_directory(self.pki_dir, self.service_name)
        return TlsFiles(
            self.tls_ca_file or dev.ca_file,
            self.tls_cert_file or dev.cert_file,
            self.tls_key_file or dev.key_file,
        )

    @model_validator(mode="after")
    def _derive_and_check_database_url(self) -> Self:
        if not self.database_url:
            if not self.is_dev:
                raise ValueError(
                    f"{self.service_name.upper()}_DATABASE_URL is required outside dev: each "
                    "service connects as its own role"
                )
            if not self.shared_database_url:
                raise ValueError(f"set {self.service_name.upper()}_DATABASE_URL or DATABASE_URL")
            object.__setattr__(
                self,
                "database_url",
                SecretStr(
                    service_url(self.shared_database_url.get_secret_value(), self.service_name)
                ),
            )
        elif not self.is_dev:
            password = urlsplit(self.database_url.get_secret_value()).password or ""
            if password in ("", dev_service_password(self.service_name)):
                raise ValueError(
                    f"{self.service_name.upper()}_DATABASE_URL has an empty or dev password"
                )
        return self

    @property
    def dsn(self) -> str:
        assert self.database_url is not None
        return self.database_url.get_secret_value()


class PagedServiceSettings(ServiceSettings):
    """A service with list RPCs: it signs their page tokens with a key of its own.

    `<SERVICE>_PAGE_TOKEN_KEY` is required outside dev, at least 32 characters, and never the
    dev key, which dev and test derive from the service's name.
    """

    page_token_key: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _require_page_token_key(self) -> Self:
        variable = f"{self.service_name.upper()}_PAGE_TOKEN_KEY"
        dev_key = dev_page_token_key(self.service_name)
        key = self.page_token_key.get_secret_value()
        if self.is_dev:
            if not key:
                object.__setattr__(self, "page_token_key", SecretStr(dev_key))
            return self
        if not key:
            raise ValueError(f"{variable} is required outside dev")
        if key == dev_key:
            raise ValueError(f"{variable}: the dev key must not be used outside dev")
        if len(key) < 32:
            raise ValueError(f"{variable} must have at least 32 characters")
        return self


def dev_page_token_key(service: str) -> str:
    """The public page token key of a service in dev and tests."""
    return f"paysuite-dev-page-token-key-{service}"


def service_url(shared_url: str, service: str) -> str:
    """Rewrites a server URL to connect as the service's own dev role."""
    return with_credentials(shared_url, service_role(service), dev_service_password(service))
