"""The import contracts (.importlinter, checked by `make lint`) cover every package there is.

The contracts are the source of truth for the layering; this only makes sure a new service,
library package or simulator cannot escape them by not being listed.
"""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
OUTSIDE = {
    p.name
    for folder in ("lib", "simulators")
    for p in (ROOT / folder).iterdir()
    if (p / "__init__.py").exists()
}


def _contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config


def _names(section: str, option: str) -> set[str]:
    return set(_contracts()[section][option].split())


def test_there_are_four_services_each_with_its_layers() -> None:
    assert {"gateway", "ledger", "identity", "recon"} == SERVICES
    for service in SERVICES:
        for layer in _names("importlinter:contract:layers", "layers"):
            path = ROOT / "services" / service / layer
            assert path.is_dir() or path.with_suffix(".py").is_file(), path


def test_every_package_is_analysed() -> None:
    assert _names("importlinter", "root_packages") == SERVICES | OUTSIDE


def test_every_service_is_under_every_contract() -> None:
    assert _names("importlinter:contract:domain-is-pure", "source_modules") == {
        f"{s}.domain" for s in SERVICES
    }
    assert _names("importlinter:contract:service-layers-use-no-drivers", "source_modules") == {
        f"{s}.service_layer" for s in SERVICES
    }
    assert _names("importlinter:contract:layers", "containers") == SERVICES
    assert _names("importlinter:contract:services-independent", "modules") == SERVICES
    lib = "importlinter:contract:lib-imports-no-service"
    assert _names(lib, "source_modules") == OUTSIDE
    assert _names(lib, "forbidden_modules") == SERVICES
