"""Mutual TLS credentials from files: the suite's CA, this workload's certificate and key.

Servers re-read the files when they change (a rotation by cert-manager, a mesh or the dev CA):
each new connection's handshake asks for the current configuration, which is read again
only when a file's modification time or size has changed. Outbound channels re-read them too
(paysuite.runtime.rotating_channel).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

_log = logging.getLogger(__name__)
# (modification time in ns, size) of each file: what changes when one is replaced.
Stamp = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class TlsFiles:
    """Where a workload's trust anchor, certificate chain and private key are mounted."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def in_directory(cls, directory: Path, stem: str) -> TlsFiles:
        """The dev layout: <dir>/ca.pem, <dir>/<stem>.pem and <dir>/<stem>.key."""
        return cls(directory / "ca.pem", directory / f"{stem}.pem", directory / f"{stem}.key")

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(CA, certificate chain, key) as PEM; a missing file fails with its path named."""
        return self.ca_file.read_bytes(), self.cert_file.read_bytes(), self.key_file.read_bytes()

    def stamp(self) -> Stamp:
        """What changes when any of the files is replaced."""
        stats = (p.stat() for p in (self.ca_file, self.cert_file, self.key_file))
        return tuple((s.st_mtime_ns, s.st_size) for s in stats)


class ReloadingServerConfig:
    """The fetcher gRPC calls at each handshake: a new configuration once the files change."""

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._lock = threading.Lock()
        self._stamp = files.stamp()
        self.initial = self._load()

    def _load(self) -> grpc.ServerCertificateConfiguration:
        ca, chain, key = self._files.read()
        _check_pair(self._files, chain, key)
        return grpc.ssl_server_certificate_configuration([(key, chain)], root_certificates=ca)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            try:
                stamp = self._files.stamp()
                if stamp == self._stamp:
                    return None
                config = self._load()
            except (OSError, ValueError):
                # Half-rotated (a file missing for a moment, a new key whose certificate is not
                # there yet): keep serving the old pair and look again at the next handshake.
                _log.warning("certificate files unreadable; keeping the current ones")
                return None
            self._stamp = stamp
            _log.info("certificate files changed; serving the new ones")
            return config


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """TLS that requires a client certificate signed by the suite's CA, reloaded on rotation."""
    fetcher = ReloadingServerConfig(files)
    # gRPC keeps the current configuration when the fetcher answers None (the stubs say not).
    fetch = cast("Callable[[], grpc.ServerCertificateConfiguration]", fetcher)
    return grpc.dynamic_ssl_server_credentials(
        fetcher.initial, fetch, require_client_authentication=True
    )


def _check_pair(files: TlsFiles, chain: bytes, key: bytes) -> None:
    """Fails with ValueError unless the key is the one of the chain's first certificate: a
    rotation caught between writing the new key and the new certificate."""
    leaf = x509.load_pem_x509_certificate(chain).public_key()
    private = serialization.load_pem_private_key(key, password=None).public_key()
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_bytes(der, spki) != private.public_bytes(der, spki):
        raise ValueError(f"{files.key_file} is not the key of {files.cert_file}")


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    """TLS to another service, trusting only the suite's CA and presenting our certificate; a
    certificate and key that do not belong together fail with ValueError."""
    ca, chain, key = files.read()
    _check_pair(files, chain, key)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=chain
    )
