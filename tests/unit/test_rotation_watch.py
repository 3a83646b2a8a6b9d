"""RotationWatch looks at the certificate files once per interval and reports a rotation until
it is accepted; a certificate with another identity's key is refused for outbound channels and
not served by a server until its own certificate is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devstack.pki import DevCA
from paysuite.runtime.identities import merchant, operator
from paysuite.runtime.rotation_watch import RotationWatch
from paysuite.runtime.tls import ReloadingServerConfig, TlsFiles, channel_credentials


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ca(tmp_path: Path) -> DevCA:
    dev = DevCA(tmp_path / "ca")
    dev.ensure([operator(), merchant("M100001")])
    return dev


def _mount(ca: DevCA, directory: Path, stem: str) -> TlsFiles:
    """Copies a certificate and its key over the mounted client.pem / client.key."""
    directory.mkdir(exist_ok=True)
    files = TlsFiles.in_directory(directory, "client")
    shutil.copy(ca.ca_file, files.ca_file)
    shutil.copy(ca.directory / f"{stem}.key", files.key_file)
    shutil.copy(ca.directory / f"{stem}.pem", files.cert_file)
    return files


def test_a_rotation_is_seen_at_the_next_look_and_until_accepted(ca: DevCA, tmp_path: Path) -> None:
    files = _mount(ca, tmp_path / "mounted", operator().file_stem)
    clock = Clock()
    watch = RotationWatch(files, every=5.0, clock=clock)
    assert watch.rotated() is None  # not yet time to look
    _mount(ca, tmp_path / "mounted", merchant("M100001").file_stem)
    clock.now += 4.9
    assert watch.rotated() is None  # still within the interval: no look at the files
    clock.now += 0.1
    stamp = watch.rotated()
    assert stamp == files.stamp()
    clock.now += 5.0
    assert watch.rotated() == stamp  # not accepted (say, half-written): reported again
    watch.accept(stamp)
    clock.now += 5.0
    assert watch.rotated() is None


def test_a_missing_file_is_no_rotation_until_it_is_back(ca: DevCA, tmp_path: Path) -> None:
    files = _mount(ca, tmp_path / "mounted", operator().file_stem)
    clock = Clock()
    watch = RotationWatch(files, every=1.0, clock=clock)
    files.cert_file.unlink()
    clock.now += 1.0
    assert watch.rotated() is None
    _mount(ca, tmp_path / "mounted", merchant("M100001").file_stem)
    clock.now += 1.0
    assert watch.rotated() == files.stamp()


def test_a_certificate_with_another_identitys_key_is_refused(ca: DevCA, tmp_path: Path) -> None:
    files = _mount(ca, tmp_path / "mounted", operator().file_stem)
    channel_credentials(files)
    # Half a rotation: the new key is in place, the new certificate not yet.
    shutil.copy(ca.key_file(merchant("M100001")), files.key_file)
    with pytest.raises(ValueError, match="is not the key of"):
        channel_credentials(files)


def test_a_server_keeps_its_pair_until_the_new_key_has_its_certificate(
    ca: DevCA, tmp_path: Path
) -> None:
    files = _mount(ca, tmp_path / "mounted", operator().file_stem)
    fetch = ReloadingServerConfig(files)
    assert fetch() is None  # nothing changed
    shutil.copy(ca.key_file(merchant("M100001")), files.key_file)
    assert fetch() is None  # the new key without its certificate: the old pair still served
    shutil.copy(ca.directory / f"{merchant('M100001').file_stem}.pem", files.cert_file)
    assert fetch() is not None  # the whole new pair: served from the next handshake
    assert fetch() is None
