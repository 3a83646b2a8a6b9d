"""The mtls component: a cert-manager Certificate per service with its SPIFFE URI, mounted as
the files the service reads, probes on the plaintext health port; the scheduled payctl runs
call as an operator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

K8S_DIR = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
SERVICES = ("gateway", "ledger", "identity", "recon")
SCHEDULED = ("ledger-day-cut", "ledger-day-end", "recon-daily", "recon-reserve")
Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def dev() -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR / "overlays" / "dev")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def _one(docs: list[Manifest], kind: str, name: str) -> Manifest:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_serves_its_own_certificate_and_probes_health_in_plaintext(
    dev: list[Manifest], svc: str
) -> None:
    certificate = _one(dev, "Certificate", f"{svc}-tls")["spec"]
    assert certificate["uris"] == [f"spiffe://paysuite/service/{svc}"]
    assert certificate["issuerRef"]["name"] == "paysuite"
    assert set(certificate["usages"]) >= {"server auth", "client auth"}
    pod = _one(dev, "Deployment", svc)["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == "server"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    prefix = svc.upper()
    mount = next(m for m in server["volumeMounts"] if m["name"] == "tls")
    assert mount["readOnly"] is True
    for variable, key in (("CA", "ca.crt"), ("CERT", "tls.crt"), ("KEY", "tls.key")):
        assert env[f"{prefix}_TLS_{variable}_FILE"] == f"{mount['mountPath']}/{key}"
    volume = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert volume["secret"]["secretName"] == certificate["secretName"]
    health_port = int(env[f"{prefix}_HEALTH_PORT"])
    assert server["readinessProbe"]["grpc"]["port"] == health_port
    assert server["livenessProbe"]["grpc"]["port"] == health_port


@pytest.mark.parametrize("name", SCHEDULED)
def test_scheduled_runs_call_as_the_scheduler_operator(dev: list[Manifest], name: str) -> None:
    pod = _one(dev, "CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    certificate = _one(dev, "Certificate", volume["secret"]["secretName"])["spec"]
    assert certificate["uris"] == ["spiffe://paysuite/operator/scheduler"]
    paths = {item["path"] for item in volume["secret"]["items"]}
    assert paths == {"ca.pem", "operator.pem", "operator.key"}
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PAYSUITE_PKI_DIR"] == container["volumeMounts"][0]["mountPath"]
