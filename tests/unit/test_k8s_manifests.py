"""Render the Kustomize manifests and check the deployment invariants of every service."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.adapters.channel_rules_file import parse_channel_rules

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
SERVICES: dict[str, int] = {"gateway": 50051, "ledger": 50052, "identity": 50053, "recon": 50054}

Manifest = dict[str, Any]


def _render(path: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> list[Manifest]:
    return _render(K8S_DIR / "base")


@pytest.fixture(scope="module")
def dev() -> list[Manifest]:
    return _render(K8S_DIR / "overlays" / "dev")


def _one(docs: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name}, found {len(matches)}"
    return matches[0]


def _env(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}


def test_base_has_no_secret_objects(base: list[Manifest]) -> None:
    assert not [d for d in base if d["kind"] == "Secret"]


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_has_one_of_each_object(base: list[Manifest], svc: str) -> None:
    for kind in ("Deployment", "Service", "ServiceAccount"):
        obj = _one(base, kind, svc)
        labels = obj["metadata"]["labels"]
        assert labels["app"] == svc
        assert labels["app.kubernetes.io/name"] == svc
        assert labels["app.kubernetes.io/part-of"] == "paysuite"
    assert _one(base, "ServiceAccount", svc)["automountServiceAccountToken"] is False


@pytest.mark.parametrize(("svc", "port"), SERVICES.items())
def test_deployment(base: list[Manifest], svc: str, port: int) -> None:
    dep = _one(base, "Deployment", svc)
    assert dep["spec"]["selector"]["matchLabels"] == {"app": svc}
    pod = dep["spec"]["template"]
    assert pod["metadata"]["labels"]["app"] == svc
    spec = pod["spec"]
    assert spec["serviceAccountName"] == svc
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["terminationGracePeriodSeconds"] == 30

    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == 10001
    assert "fsGroup" in pod_sc
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}

    tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}

    [server] = spec["containers"]
    assert "initContainers" not in spec  # migrations are Jobs of their own
    job = _one(base, "Job", f"{svc}-migrate")["spec"]["template"]["spec"]
    [migrate] = job["containers"]
    assert job["serviceAccountName"] == svc
    assert job["securityContext"] == pod_sc
    assert server["command"] == ["python", "-m", svc]
    assert migrate["command"] == ["python", "-m", svc, "migrate"]
    assert migrate["image"] == server["image"]
    assert server["image"].split(":")[0] == "paysuite"
    # The same settings, but for the metrics endpoint only a server has.
    assert _env(migrate) == {k: v for k, v in _env(server).items() if k != "PAYSUITE_METRICS_PORT"}
    assert _env(server)["PAYSUITE_METRICS_PORT"]["value"] == "9464"
    assert {"name": "metrics", "containerPort": 9464, "protocol": "TCP"} in server["ports"]
    annotations = pod["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == (
        "true",
        "9464",
    )

    assert server["ports"][0] == {"name": "grpc", "containerPort": port, "protocol": "TCP"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert server[probe]["grpc"]["port"] == port

    for container in (server, migrate):
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["privileged"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts.get("/tmp") in tmp_volumes | {"tmp"}

        env = _env(container)
        assert env["PAYSUITE_ENV"]["value"] == "prod"
        assert env[f"{svc.upper()}_PORT"]["value"] == str(port)
        assert env[f"{svc.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{svc}-db",
            "key": "url",
        }
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector:4317"
        assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == "service.namespace=paysuite"
        # every service has list RPCs and signs its page tokens
        assert env[f"{svc.upper()}_PAGE_TOKEN_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{svc}-paging",
            "key": "page-token-key",
        }


def test_service_specific_env(base: list[Manifest]) -> None:
    def server_env(svc: str) -> dict[str, Manifest]:
        dep = _one(base, "Deployment", svc)
        return _env(dep["spec"]["template"]["spec"]["containers"][0])

    def secret_ref(env: dict[str, Manifest], name: str) -> Manifest:
        ref: Manifest = env[name]["valueFrom"]["secretKeyRef"]
        return ref

    gateway = server_env("gateway")
    assert gateway["LEDGER_ADDR"]["value"] == "ledger:50052"
    assert gateway["IDENTITY_ADDR"]["value"] == "identity:50053"
    assert gateway["GATEWAY_CHANNELS__BANKSIM__KIND"]["value"] == "bank"
    assert secret_ref(gateway, "GATEWAY_CHANNELS__BANKSIM__URL") == {
        "name": "gateway-channels",
        "key": "bank-url",
    }
    assert secret_ref(gateway, "GATEWAY_CHANNELS__BANKSIM__SECRET") == {
        "name": "gateway-channels",
        "key": "bank-secret",
    }
    identity = server_env("identity")
    assert secret_ref(identity, "IDENTITY_PII_KEYS") == {"name": "identity-pii", "key": "pii-keys"}
    assert secret_ref(identity, "IDENTITY_BLIND_INDEX_KEY") == {
        "name": "identity-pii",
        "key": "blind-index-key",
    }
    assert server_env("recon")["GATEWAY_ADDR"]["value"] == "gateway:50051"
    assert server_env("recon")["LEDGER_ADDR"]["value"] == "ledger:50052"


@pytest.mark.parametrize(("svc", "port"), SERVICES.items())
def test_service_targets_grpc_port(base: list[Manifest], svc: str, port: int) -> None:
    spec = _one(base, "Service", svc)["spec"]
    assert spec.get("type", "ClusterIP") == "ClusterIP"
    assert spec["selector"] == {"app": svc}
    svc_port, metrics_port = spec["ports"]
    assert metrics_port == {
        "name": "metrics",
        "port": 9464,
        "targetPort": "metrics",
        "protocol": "TCP",
        "appProtocol": "http",
    }
    assert svc_port["name"] == "grpc"
    assert svc_port["port"] == port
    assert svc_port["targetPort"] == "grpc"
    assert svc_port["appProtocol"] == "grpc"


def test_dev_overlay_sets_image_tag(dev: list[Manifest]) -> None:
    images = {
        c["image"]
        for d in dev
        if d["kind"] == "Deployment"
        if d["metadata"]["name"] in SERVICES
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"paysuite:dev"}


def test_dev_overlay_has_default_deny(dev: list[Manifest]) -> None:
    policies = [d for d in dev if d["kind"] == "NetworkPolicy"]
    deny_all = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny_all) == 1


def test_dev_overlay_ledger_only_admits_gateway_and_recon(dev: list[Manifest]) -> None:
    policies = [d for d in dev if d["kind"] == "NetworkPolicy"]
    ingress_rules = [
        rule
        for p in policies
        if "Ingress" in p["spec"].get("policyTypes", [])
        and p["spec"]["podSelector"].get("matchLabels") == {"app": "ledger"}
        for rule in p["spec"].get("ingress", [])
    ]
    assert ingress_rules, "ledger must have an ingress policy"
    for rule in ingress_rules:
        assert rule["from"] == [
            {"podSelector": {"matchLabels": {"app": "gateway"}}},
            {"podSelector": {"matchLabels": {"app": "recon"}}},  # suspense postings, entries
            {"podSelector": {"matchLabels": {"app": "ledger-operations"}}},  # day-cut, day-end
        ]
        assert rule["ports"] == [{"port": 50052, "protocol": "TCP"}]
    # No other policy may open ingress to every pod (which would include ledger).
    for p in policies:
        if p["spec"]["podSelector"] == {}:
            assert not p["spec"].get("ingress")


def test_dev_overlay_lets_identity_reach_the_gateway_and_nothing_else_by_grpc(
    dev: list[Manifest],
) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in dev if p["kind"] == "NetworkPolicy"}
    identity_egress = policies["identity"]["egress"]
    assert identity_egress == [
        {
            "to": [{"podSelector": {"matchLabels": {"app": "gateway"}}}],
            "ports": [{"port": 50051, "protocol": "TCP"}],
        }
    ]
    gateway_sources = [
        s["podSelector"]["matchLabels"]
        for rule in policies["gateway"]["ingress"]
        for s in rule["from"]
        if "podSelector" in s
    ]
    assert {"app": "identity"} in gateway_sources


def test_gateway_notify_listener_is_served_and_reachable_only_from_the_ingress(
    dev: list[Manifest],
) -> None:
    dep = _one(dev, "Deployment", "gateway")
    [server] = dep["spec"]["template"]["spec"]["containers"]
    assert {"name": "notify", "containerPort": 50061, "protocol": "TCP"} in server["ports"]
    env = _env(server)
    assert env["GATEWAY_NOTIFY_HOST"]["value"] == "0.0.0.0"
    assert env["GATEWAY_NOTIFY_PORT"]["value"] == "50061"
    secret = env["GATEWAY_NOTIFY_BASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
    assert secret.startswith("gateway-channels")  # with the dev generator's hash

    [port] = _one(dev, "Service", "gateway-notify")["spec"]["ports"]
    assert port["targetPort"] == "notify"

    policies = {p["metadata"]["name"]: p["spec"] for p in dev if p["kind"] == "NetworkPolicy"}
    notify_rules = [
        rule
        for rule in policies["gateway"]["ingress"]
        if {"port": 50061, "protocol": "TCP"} in rule["ports"]
    ]
    assert notify_rules == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                    }
                }
            ],
            "ports": [{"port": 50061, "protocol": "TCP"}],
        }
    ]


def test_the_gateway_reads_its_shipped_channel_rules_from_a_config_map(
    base: list[Manifest],
) -> None:
    gateway = _one(base, "Deployment", "gateway")["spec"]["template"]["spec"]
    server = gateway["containers"][0]
    path = _env(server)["GATEWAY_CHANNEL_RULES_FILE"]["value"]
    [mount] = [m for m in server["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert "subPath" not in mount  # a subPath mount never sees the ConfigMap change
    [volume] = [v for v in gateway["volumes"] if v["name"] == mount["name"]]
    config_map = _one(base, "ConfigMap", volume["configMap"]["name"])
    document = json.loads(config_map["data"][path.rsplit("/", 1)[1]])
    channels = [
        e["name"].split("__")[1].lower()
        for e in server["env"]
        if e["name"].startswith("GATEWAY_CHANNELS__") and e["name"].endswith("__KIND")
    ]
    channel_rules = parse_channel_rules(document, [*channels, "balance"], "Asia/Shanghai")
    assert [rule.name for rule in channel_rules.rules] == ["cards"]
