"""Each service's policy.toml names every RPC the service serves, with valid callers; merchants
reach the gateway alone, and the issue's operator-only RPCs are the operators'."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from google.protobuf.descriptor import ServiceDescriptor

from paysuite.runtime.authz import Policy, PolicyError
from paysuite.runtime.entrypoint import default_policy_file
from paysuite.runtime.identities import merchant, operator, service

SERVICES = ("gateway", "ledger", "identity", "recon")


def _served(name: str) -> list[ServiceDescriptor]:
    """Every gRPC service defined in the service's protos (paysuite.<name>.v1)."""
    package = importlib.import_module(f"paysuite.{name}.v1")
    found: list[ServiceDescriptor] = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(f"{package.__name__}.{module.name}").DESCRIPTOR
            found.extend(descriptor.services_by_name.values())
    return found


SERVED = {name: _served(name) for name in SERVICES}


def _policy(name: str) -> Policy:
    return Policy.load(default_policy_file(name), SERVED[name])


@pytest.mark.parametrize("name", SERVED)
def test_every_rpc_is_named_with_callers(name: str) -> None:
    policy = _policy(name)
    for descriptor in SERVED[name]:
        for method in descriptor.methods:
            assert policy.callers(f"/{descriptor.full_name}/{method.name}"), method.full_name


@pytest.mark.parametrize("name", ["ledger", "identity", "recon"])
def test_merchants_reach_no_service_but_the_gateway(name: str) -> None:
    policy = _policy(name)
    assert not [m for m in policy.allowed if policy.allows(merchant("M100001"), m)]


OPERATORS_ONLY = [
    "/paysuite.ledger.v1.LedgerService/RunDayCut",
    "/paysuite.ledger.v1.LedgerService/RunDayEnd",
    "/paysuite.identity.v1.IdentityService/DowngradeTier",
    "/paysuite.identity.v1.IdentityService/FreezeUser",
    "/paysuite.recon.v1.ReconService/RunReconciliation",
    "/paysuite.gateway.v1.GatewayService/RegisterMerchant",
    "/paysuite.gateway.v1.GatewayService/UpdateMerchant",
]


@pytest.mark.parametrize("method", OPERATORS_ONLY)
def test_operator_rpcs_are_the_operators_alone(method: str) -> None:
    name = method.split(".")[1]
    policy = _policy(name)
    assert policy.allows(operator("alice"), method)
    for other in (merchant("M100001"), service("gateway"), service("recon")):
        assert not policy.allows(other, method)


def test_health_and_reflection_are_open_to_any_identity() -> None:
    policy = Policy({})
    for method in (
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ):
        assert policy.allows(merchant("M1"), method)


def test_a_policy_naming_what_does_not_exist_is_refused(tmp_path: Path) -> None:
    typo = tmp_path / "policy.toml"
    typo.write_text('["paysuite.ledger.v1.LedgerService"]\nRunDayCutt = ["operator/*"]\n')
    with pytest.raises(PolicyError, match="RunDayCutt"):
        Policy.load(typo, SERVED["ledger"])
    bad_caller = tmp_path / "caller.toml"
    bad_caller.write_text('["paysuite.ledger.v1.LedgerService"]\nRunDayCut = ["admins"]\n')
    with pytest.raises(PolicyError, match="admins"):
        Policy.load(bad_caller, SERVED["ledger"])
