"""The development CA: a suite CA and one certificate per identity, as files in .data/pki/.

Only for `make run` and tests. Elsewhere certificates come from the platform (cert-manager,
a mesh); the services only read files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devstack import demo
from paysuite.runtime.identities import Identity, Kind, merchant, operator, service
from paysuite.runtime.server import MAX_MESSAGE_BYTES
from paysuite.runtime.settings import DEV_PKI_DIR
from paysuite.runtime.tls import TlsFiles, channel_credentials

DEFAULT_PKI_DIR = DEV_PKI_DIR
SERVICES = ("gateway", "ledger", "identity", "recon")
CA_DAYS = 3650
LEAF_DAYS = 90
# Names a service's certificate answers to: how clients reach it in dev, tests and Kubernetes.
LOOPBACK_IPS = ("127.0.0.1", "::1")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Writes a key readable by its owner only (created so, never widened first)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class DevCA:
    """The suite's development CA in a directory: ca.pem, ca.key, <name>.pem, <name>.key."""

    def __init__(self, directory: Path = DEFAULT_PKI_DIR) -> None:
        self.directory = directory

    @classmethod
    def from_environment(cls) -> DevCA:
        """The CA in PAYSUITE_PKI_DIR (as the services read it), else .data/pki."""
        return cls(Path(os.environ.get("PAYSUITE_PKI_DIR") or DEFAULT_PKI_DIR))

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    def cert_file(self, identity: Identity) -> Path:
        return self.directory / f"{identity.file_stem}.pem"

    def key_file(self, identity: Identity) -> Path:
        return self.directory / f"{identity.file_stem}.key"

    def files(self, identity: Identity) -> TlsFiles:
        return TlsFiles(self.ca_file, self.cert_file(identity), self.key_file(identity))

    def credentials(self, identity: Identity) -> grpc.ChannelCredentials:
        """TLS trusting the dev CA, presenting the identity's certificate (issued if missing)."""
        self.ensure([identity])
        return channel_credentials(self.files(identity))

    def channel(
        self,
        address: str,
        identity: Identity,
        options: Sequence[tuple[str, Any]] | None = None,
        interceptors: Sequence[Any] | None = None,
    ) -> grpc.aio.Channel:
        """A channel to a service of the suite, calling as the identity."""
        return grpc.aio.secure_channel(
            address,
            self.credentials(identity),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                *(options or []),
            ],
            interceptors=interceptors,
        )

    def ensure_suite(self) -> None:
        """What `make run` needs: the services, the operator and the demo merchant."""
        self.ensure([*(service(s) for s in SERVICES), operator(), merchant(demo.MERCHANT_ID)])

    def ensure(self, identities: Iterable[Identity]) -> None:
        """Creates the CA if missing and a certificate for each identity that has none."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.ca_file.exists() or not (self.directory / "ca.key").exists():
            self._create_ca()
        for identity in identities:
            if not self.cert_file(identity).exists() or not self.key_file(identity).exists():
                self.issue(identity)

    def _create_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paysuite dev CA")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        _write_private(self.directory / "ca.key", _key_pem(key))
        _write_public(self.ca_file, cert.public_bytes(serialization.Encoding.PEM))

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = serialization.load_pem_private_key(
            (self.directory / "ca.key").read_bytes(), password=None
        )
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cert, key

    def issue(self, identity: Identity, days: int = LEAF_DAYS) -> Path:
        """Issues (or re-issues: a rotation) the identity's certificate and a new key."""
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity.uri)]
        if identity.kind is Kind.SERVICE:
            names += [x509.DNSName(identity.name), x509.DNSName("localhost")]
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.path)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        # The key first: a reader that sees the new certificate finds its key in place.
        _write_private(self.key_file(identity), _key_pem(key))
        _write_public(self.cert_file(identity), cert.public_bytes(serialization.Encoding.PEM))
        return self.cert_file(identity)


def dev_channel(
    address: str,
    identity: str = "operator",
    options: Sequence[tuple[str, Any]] | None = None,
    interceptors: Sequence[Any] | None = None,
) -> grpc.aio.Channel:
    """A channel for dev tools and benchmarks to a service of the suite: the dev CA of
    PAYSUITE_PKI_DIR (else .data/pki), calling as the identity named as its files are
    (operator, merchant-M100001, gateway, ...)."""
    caller = Identity.from_file_stem(identity)
    return DevCA.from_environment().channel(address, caller, options, interceptors)
