"""Domain code stays pure: no gRPC, protobuf, SQLAlchemy or HTTP imports in any domain package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("grpc", "google.protobuf", "sqlalchemy", "asyncpg", "aiohttp", "paysuite.runtime")
DOMAIN_FILES = sorted((ROOT / "services").glob("*/domain/*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_service_has_a_domain_package() -> None:
    assert {p.parent.parent.name for p in DOMAIN_FILES} == {
        "gateway",
        "ledger",
        "identity",
        "recon",
    }


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_imports_no_infrastructure(path: Path) -> None:
    bad = {
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f"{f}.") or name.endswith("_pb2") for f in FORBIDDEN)
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"
