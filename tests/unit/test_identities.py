"""Workload identities as SPIFFE URIs and file names, and the dev CA's certificates."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from devstack.pki import DevCA
from paysuite.runtime.identities import Identity, Kind, merchant, operator, service


@pytest.mark.parametrize(
    ("identity", "uri", "stem"),
    [
        (service("gateway"), "spiffe://paysuite/service/gateway", "gateway"),
        (operator(), "spiffe://paysuite/operator/dev", "operator"),
        (operator("alice"), "spiffe://paysuite/operator/alice", "operator-alice"),
        (merchant("M100001"), "spiffe://paysuite/merchant/M100001", "merchant-M100001"),
        (merchant("M-1"), "spiffe://paysuite/merchant/M-1", "merchant-M-1"),
    ],
)
def test_an_identity_reads_back_from_its_uri_and_its_file_name(
    identity: Identity, uri: str, stem: str
) -> None:
    assert (identity.uri, identity.file_stem) == (uri, stem)
    assert Identity.from_uri(uri) == identity
    assert Identity.from_file_stem(stem) == identity


@pytest.mark.parametrize(
    "uri",
    [
        "spiffe://other/service/gateway",
        "spiffe://paysuite/root/x",
        "spiffe://paysuite/merchant/",
        "spiffe://paysuite/merchant/a/b",
        "https://paysuite/service/gateway",
    ],
)
def test_uris_of_other_trust_domains_or_kinds_name_nobody(uri: str) -> None:
    assert Identity.from_uri(uri) is None


def test_the_dev_ca_issues_each_identity_its_uri_and_services_their_names(tmp_path: Path) -> None:
    ca = DevCA(tmp_path)
    ca.ensure_suite()
    for stem in ("gateway", "ledger", "identity", "recon", "operator", "merchant-M100001"):
        identity = Identity.from_file_stem(stem)
        cert = x509.load_pem_x509_certificate(ca.cert_file(identity).read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.UniformResourceIdentifier) == [identity.uri]
        dns = names.get_values_for_type(x509.DNSName)
        assert dns == ([identity.name, "localhost"] if identity.kind is Kind.SERVICE else [])
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
        assert stat.S_IMODE(ca.key_file(identity).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600


def test_reissuing_rotates_the_key_and_keeps_the_ca(tmp_path: Path) -> None:
    ca = DevCA(tmp_path)
    ca.ensure([merchant("M1")])
    root, key = ca.ca_file.read_bytes(), ca.key_file(merchant("M1")).read_bytes()
    ca.issue(merchant("M1"))
    ca.ensure([merchant("M1")])
    assert ca.ca_file.read_bytes() == root
    assert ca.key_file(merchant("M1")).read_bytes() != key
