"""Workload identities: SPIFFE-style URIs (spiffe://paysuite/<kind>/<name>) and their file names."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

TRUST_DOMAIN = "paysuite"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")


class Kind(enum.StrEnum):
    """What sort of caller a certificate names."""

    SERVICE = "service"
    OPERATOR = "operator"
    MERCHANT = "merchant"


@dataclass(frozen=True)
class Identity:
    """One caller of the suite: a service, an operator or a merchant."""

    kind: Kind
    name: str

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise ValueError(f"not an identity name: {self.name!r}")

    @property
    def uri(self) -> str:
        """The certificate's URI SAN, e.g. spiffe://paysuite/merchant/M100001."""
        return f"spiffe://{TRUST_DOMAIN}/{self.kind}/{self.name}"

    @property
    def path(self) -> str:
        """How policies name it: service/gateway, operator/alice, merchant/M100001."""
        return f"{self.kind}/{self.name}"

    @property
    def file_stem(self) -> str:
        """Its certificate's file name without suffix: gateway, operator, merchant-M100001.

        A service is named as itself, the operator of `make run` is "operator", others
        are <kind>-<name>.
        """
        if self.kind is Kind.SERVICE:
            return self.name
        if self.kind is Kind.OPERATOR and self.name == DEV_OPERATOR:
            return "operator"
        return f"{self.kind}-{self.name}"

    @classmethod
    def from_uri(cls, uri: str) -> Identity | None:
        """The identity a URI SAN names, or None when it is not one of this trust domain's."""
        prefix = f"spiffe://{TRUST_DOMAIN}/"
        if not uri.startswith(prefix):
            return None
        kind, _, name = uri.removeprefix(prefix).partition("/")
        try:
            return cls(Kind(kind), name)
        except ValueError:
            return None

    @classmethod
    def from_file_stem(cls, stem: str) -> Identity:
        """The identity `payctl --as` names: operator, merchant-M100001, service name, ..."""
        if stem == "operator":
            return operator()
        kind, sep, name = stem.partition("-")
        if sep and kind in Kind.__members__.values():
            return cls(Kind(kind), name)
        return service(stem)


DEV_OPERATOR = "dev"


def valid_name(name: str) -> bool:
    """Letters, digits, '.', '_', ':' and '-', at most 63: what an identity's name may be."""
    return bool(_NAME.match(name))


def service(name: str) -> Identity:
    return Identity(Kind.SERVICE, name)


def operator(name: str = DEV_OPERATOR) -> Identity:
    return Identity(Kind.OPERATOR, name)


def merchant(merchant_id: str) -> Identity:
    return Identity(Kind.MERCHANT, merchant_id)
