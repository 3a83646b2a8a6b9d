"""Every reason a service can answer with is published in paysuite.type.v1.ErrorReason.

The domain keeps its reasons as plain strings (it imports no protobuf); this walks every
DomainError subclass of the four services and holds the strings and the published enum in step.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

from paysuite.errors import INTERNAL_REASON, DomainError
from paysuite.runtime.enums import short_names
from paysuite.runtime.grpc_errors import reason_name
from paysuite.type.v1.error_reason_pb2 import ErrorReason

SERVICES = ("gateway", "ledger", "identity", "recon")


def _import_services() -> None:
    for service in SERVICES:
        package = importlib.import_module(service)
        for module in pkgutil.walk_packages(package.__path__, f"{service}."):
            if ".migrations" not in module.name and not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def _subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.fixture(scope="module")
def errors() -> list[type[DomainError]]:
    _import_services()
    return [DomainError, *_subclasses(DomainError)]


def test_every_reason_a_service_raises_is_published(errors: list[type[DomainError]]) -> None:
    published = set(short_names(ErrorReason))
    missing = {
        f"{e.__module__}.{e.__qualname__}": e.reason for e in errors if e.reason not in published
    }
    assert not missing, (
        f"add these reasons to protos/paysuite/type/v1/error_reason.proto: {missing}"
    )
    assert INTERNAL_REASON in published


def test_every_published_reason_is_raised_somewhere(errors: list[type[DomainError]]) -> None:
    raised = {e.reason for e in errors} | {INTERNAL_REASON}
    assert set(short_names(ErrorReason)) - raised == set()


def test_no_reason_is_defined_twice(errors: list[type[DomainError]]) -> None:
    defined: dict[str, list[str]] = {}
    for error in errors:
        if "reason" in vars(error):
            defined.setdefault(error.reason, []).append(f"{error.__module__}.{error.__qualname__}")
    twice = {reason: where for reason, where in defined.items() if len(where) > 1}
    assert not twice, f"define each reason once (shared ones in paysuite.errors): {twice}"


def test_the_wire_spelling_drops_the_enum_prefix() -> None:
    assert reason_name(ErrorReason.ERROR_REASON_REQUEST_ID_REUSED) == "REQUEST_ID_REUSED"
