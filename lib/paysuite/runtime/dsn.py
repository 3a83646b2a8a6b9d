"""Postgres connection URLs: driver prefix, per-service roles and dev credentials."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit


def service_role(service: str) -> str:
    """The database role a service connects as, e.g. "paysuite_ledger"."""
    return f"paysuite_{service}"


def dev_service_password(service: str) -> str:
    """The well-known password of a service role in dev; refused outside dev."""
    return f"{service_role(service)}_dev"


def with_credentials(url: str, user: str, password: str) -> str:
    """Returns the URL with its user and password replaced."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user)}:{quote(password)}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_database(url: str, database: str) -> str:
    """Returns the URL pointing at another database of the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def asyncpg_sqlalchemy_url(url: str) -> str:
    """Normalises postgres:// or postgresql:// to SQLAlchemy's asyncpg dialect."""
    scheme, _, rest = url.partition("://")
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


def plain_postgres_url(url: str) -> str:
    """Turns a SQLAlchemy URL back into a libpq/asyncpg one."""
    scheme, _, rest = url.partition("://")
    if scheme.startswith("postgres"):
        return f"postgresql://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
