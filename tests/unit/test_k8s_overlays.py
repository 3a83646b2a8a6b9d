"""The dev and prod overlays: strictly valid, and every workload probed, limited and locked down."""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.domain.egress import parse_routes
from recon.settings import ReconSettings
from scripts import check_k8s
from scripts.check_k8s import CUSTOM_RESOURCES, KUSTOMIZATIONS, validate

if shutil.which("kubectl") is None:
    pytest.skip("kubectl is not on PATH", allow_module_level=True)

SERVICES = ("gateway", "ledger", "identity", "recon")
MONITOR = ("monitoring.coreos.com/v1", "ServiceMonitor")
CLUSTER = ("postgresql.cnpg.io/v1", "Cluster")
WORKLOADS = ("Deployment", "StatefulSet")
Manifest = dict[str, Any]


@functools.cache
def _rendered(kustomization: str) -> tuple[Manifest, ...]:
    return tuple(check_k8s.render(kustomization))


def render(kustomization: str) -> list[Manifest]:
    """A fresh copy of the rendered objects (rendered once per kustomization)."""
    return copy.deepcopy(list(_rendered(kustomization)))


def _unhashed(name: str) -> str:
    """A generated Secret's or ConfigMap's name without the generator's hash suffix."""
    stem, _, suffix = name.rpartition("-")
    return stem if stem and len(suffix) == 10 and suffix.isalnum() else name


@pytest.fixture(scope="module")
def dev() -> list[Manifest]:
    return render("overlays/dev")


@pytest.fixture(scope="module")
def prod() -> list[Manifest]:
    return render("overlays/prod")


def _of(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def _named(docs: list[Manifest], kind: str, name: str) -> Manifest:
    [match] = [d for d in _of(docs, kind) if d["metadata"]["name"] == name]
    return match


def _pod_templates(docs: list[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """(object, pod template) of every workload, Job and CronJob."""
    for doc in docs:
        if doc["kind"] in (*WORKLOADS, "Job"):
            yield doc, doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_rendered_object_validates_strictly(kustomization: str) -> None:
    docs = render(kustomization)
    assert docs
    assert [str(f) for d in docs if (f := validate(kustomization, d)) is not None] == []


def test_an_unknown_field_fails_validation(prod: list[Manifest]) -> None:
    deployment = _named(prod, "Deployment", "gateway")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    finding = validate("overlays/prod", deployment)
    assert finding is not None
    assert "imagePullPolcy" in finding.problem


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod", "jobs/recon-buckets"])
def test_every_container_is_limited_and_locked_down(overlay: str) -> None:
    for doc, template in _pod_templates(render(overlay)):
        spec = template["spec"]
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), where


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_every_long_running_container_is_probed_on_a_port_it_declares(overlay: str) -> None:
    for doc in render(overlay):
        if doc["kind"] not in WORKLOADS:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"] for p in container["ports"]} | {
                p["containerPort"] for p in container["ports"]
            }
            for probe in ("readinessProbe", "livenessProbe"):
                check = container[probe]
                port = next(
                    (check[k]["port"] for k in ("grpc", "httpGet", "tcpSocket") if k in check),
                    None,
                )
                assert (port is None and "exec" in check) or port in ports, (
                    f"{doc['metadata']['name']}: {probe} on {port}, not a declared port"
                )


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_every_service_port_targets_a_port_of_the_pods_it_selects(overlay: str) -> None:
    docs = render(overlay)
    pods = [d["spec"]["template"] for d in docs if d["kind"] in WORKLOADS]
    for service in _of(docs, "Service"):
        selected = [
            p for p in pods if _selects(service["spec"]["selector"], p["metadata"]["labels"])
        ]
        assert selected, f"Service {service['metadata']['name']} selects no pods"
        for port in service["spec"]["ports"]:
            for pod in selected:
                declared = {
                    p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])
                }
                assert port["targetPort"] in declared, (service["metadata"]["name"], port)


def test_prod_runs_every_service_twice_or_more_spread_scaled_and_budgeted(
    prod: list[Manifest],
) -> None:
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in _of(prod, "HorizontalPodAutoscaler")
    }
    for name in SERVICES:
        spec = _named(prod, "Deployment", name)["spec"]
        assert spec["replicas"] >= 2
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        keys = {c["topologyKey"] for c in spec["template"]["spec"]["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert hpas[name]["minReplicas"] >= 2
        # Services require mutual TLS: each has its certificate (component mtls).
        [server] = spec["template"]["spec"]["containers"]
        assert f"{name.upper()}_TLS_CERT_FILE" in {e["name"] for e in server["env"]}
        [metric] = hpas[name]["metrics"]
        assert metric["resource"]["name"] == "cpu"


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_every_multi_replica_deployment_has_a_disruption_budget(overlay: str) -> None:
    docs = render(overlay)
    budgets = [b["spec"] for b in _of(docs, "PodDisruptionBudget")]
    for deployment in _of(docs, "Deployment"):
        if deployment["spec"].get("replicas", 1) < 2:
            continue
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if _selects(b["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, deployment["metadata"]["name"]
        assert covering[0]["minAvailable"] < deployment["spec"]["replicas"]


def test_dev_runs_as_is_one_replica_each(dev: list[Manifest]) -> None:
    names = {d["metadata"]["name"] for d in _of(dev, "Deployment") + _of(dev, "StatefulSet")}
    assert {
        *SERVICES,
        "postgres",
        "banksim",
        "alipaysim",
        "wechatsim",
        "otel-collector",
        "jaeger",
    } <= names
    for name in SERVICES:
        assert _named(dev, "Deployment", name)["spec"]["replicas"] == 1
    secrets = {_unhashed(s["metadata"]["name"]) for s in _of(dev, "Secret")}
    referenced = {
        _unhashed(e["valueFrom"]["secretKeyRef"]["name"])
        for _, template in _pod_templates(dev)
        for c in template["spec"]["containers"]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert referenced <= secrets  # every Secret a pod needs is generated


def test_prod_has_no_simulators_and_no_dev_images(prod: list[Manifest]) -> None:
    for _, template in _pod_templates(prod):
        assert "paysuite.io/simulator" not in template["metadata"]["labels"]
        for container in template["spec"]["containers"]:
            assert not container["image"].endswith(":dev")
            command = " ".join(container.get("command", []))
            assert not any(s in command for s in ("channelsim", "walletsim", "egressproxy"))
    assert not [d for d in prod if d["kind"] == "Secret"]  # the platform provides them


def test_prod_postgres_is_a_highly_available_cloudnative_pg_cluster(prod: list[Manifest]) -> None:
    [cluster] = [d for d in prod if (d["apiVersion"], d["kind"]) == CLUSTER]
    assert CLUSTER in CUSTOM_RESOURCES
    assert cluster["spec"]["instances"] >= 2
    assert cluster["spec"]["bootstrap"]["initdb"]["database"] == "paysuite"
    bootstrap = _named(prod, "Job", "postgres-bootstrap")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in bootstrap["containers"][0]["env"]}
    assert f"{cluster['metadata']['name']}-rw" in env["POSTGRES_ADMIN_URL"]["value"]
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"].startswith(
        cluster["metadata"]["name"]
    )


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_a_migration_job_per_service_as_its_own_role_after_the_bootstrap(overlay: str) -> None:
    docs = render(overlay)
    bootstrap = _named(docs, "Job", "postgres-bootstrap")["spec"]["template"]["spec"]
    passwords = {
        _unhashed(e["valueFrom"]["secretKeyRef"]["name"])
        for e in bootstrap["containers"][0]["env"]
        if e["name"].endswith("_DB_PASSWORD")
    }
    assert passwords == {f"{svc}-db" for svc in SERVICES}
    for svc in SERVICES:
        [container] = _named(docs, "Job", f"{svc}-migrate")["spec"]["template"]["spec"][
            "containers"
        ]
        env = {e["name"]: e for e in container["env"]}
        secret = env[f"{svc.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
        assert _unhashed(secret) == f"{svc}-db"


def test_scheduled_runs_never_overlap_and_repeat_safely(prod: list[Manifest]) -> None:
    cron_jobs = {c["metadata"]["name"]: c["spec"] for c in _of(prod, "CronJob")}
    assert set(cron_jobs) == {"ledger-day-cut", "ledger-day-end", "recon-daily", "recon-reserve"}
    for spec in cron_jobs.values():
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["timeZone"] == "Asia/Shanghai"
    script = "".join(
        cron_jobs["ledger-day-cut"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
    )
    assert '--expect "$day"' in script
    recon = "".join(
        cron_jobs["recon-daily"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert '--request-id "daily-$channel-$day"' in recon
    assert 'payctl settle run --date "$day"' in recon
    reserve = "".join(
        cron_jobs["recon-reserve"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
    )
    assert "payctl recon reserve --date" in reserve and "date -d yesterday" in reserve


def test_the_bucket_job_matches_every_range_of_a_run(prod: list[Manifest]) -> None:
    [job] = [d for d in render("jobs/recon-buckets") if d["kind"] == "Job"]
    spec = job["spec"]
    fields = ReconSettings.model_fields
    ranges = fields["ranges"].default
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == ranges
    # A range failing past the Job's retries fails the run; the Job outlives no run's wait.
    assert spec["backoffLimitPerIndex"] == fields["job_retries"].default
    assert spec["maxFailedIndexes"] == 0
    assert spec["activeDeadlineSeconds"] <= fields["job_timeout_seconds"].default
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "recon.entrypoints.bucket_job"]
    assert container["args"] == ["$(RECON_WORK_DIR)/$(RUN_ID)", "--ranges", str(ranges)]
    env = {e["name"]: e for e in container["env"]}
    assert _unhashed(env["RUN_ID"]["valueFrom"]["configMapKeyRef"]["name"]) == "recon-bucket-run"
    # The run's folder: where recon stages it, on the claim recon mounts there too.
    work_dir = env["RECON_WORK_DIR"]["value"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounts = {m["mountPath"]: claims.get(m["name"]) for m in container["volumeMounts"]}
    recon = _named(prod, "Deployment", "recon")["spec"]["template"]["spec"]
    [server] = recon["containers"]
    recon_env = {e["name"]: e.get("value") for e in server["env"]}
    recon_claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in recon["volumes"]
        if "persistentVolumeClaim" in v
    }
    recon_mounts = {m["mountPath"]: recon_claims.get(m["name"]) for m in server["volumeMounts"]}
    assert recon_env["RECON_WORK_DIR"] == work_dir
    assert mounts[work_dir] == recon_mounts[work_dir] == "recon-work"
    assert recon_env["RECON_MATCH_RUNNER"] in ("local", "indexed-job")


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_the_gateway_leaves_only_through_egress_proxies(overlay: str) -> None:
    docs = render(overlay)
    gateway_egress = [
        rule
        for policy in _of(docs, "NetworkPolicy")
        if _selects(
            policy["spec"]["podSelector"].get("matchLabels", {"-": "-"}), {"app": "gateway"}
        )
        for rule in policy["spec"].get("egress", [])
    ]
    allowed = [
        s["podSelector"]["matchLabels"] for rule in gateway_egress for s in rule.get("to", [])
    ]
    assert all("to" in rule for rule in gateway_egress)  # no rule open to anywhere
    assert {"paysuite.io/egress-proxy": "true"} in allowed
    assert all(
        labels in ({"app": "ledger"}, {"app": "identity"}, {"paysuite.io/egress-proxy": "true"})
        for labels in allowed
    )


def test_dev_has_a_proxy_deployment_per_route(dev: list[Manifest]) -> None:
    routes = json.loads(
        _named(dev, "ConfigMap", "gateway-egress-routes")["data"]["egress-routes.json"]
    )
    proxies = {
        d["metadata"]["name"]
        for d in _of(dev, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("paysuite.io/egress-proxy") == "true"
    }
    by_channel: dict[str, int] = {}
    for route in routes["routes"]:
        host = route["proxy"].removeprefix("http://").split(":")[0]
        assert host in proxies
        by_channel[route["channel"]] = by_channel.get(route["channel"], 0) + 1
    assert by_channel["banksim"] >= 2


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_only_the_notification_listener_is_exposed(overlay: str) -> None:
    [ingress] = _of(render(overlay), "Ingress")
    backends = [
        (path["path"], path["backend"]["service"]["name"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == [("/notify/", "gateway-notify")]


def test_prometheus_scrapes_the_metrics_port_of_every_service(prod: list[Manifest]) -> None:
    [monitor] = [d for d in prod if (d["apiVersion"], d["kind"]) == MONITOR]
    [endpoint] = monitor["spec"]["endpoints"]
    [expression] = monitor["spec"]["selector"]["matchExpressions"]
    assert (expression["key"], set(expression["values"])) == ("app", set(SERVICES))
    for name in SERVICES:
        ports = {p["name"] for p in _named(prod, "Service", name)["spec"]["ports"]}
        assert endpoint["port"] in ports
    admitted = [
        rule["ports"]
        for policy in _of(prod, "NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        if any(
            s.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            == "monitoring"
            for s in rule.get("from", [])
        )
    ]
    assert admitted == [[{"port": 9464, "protocol": "TCP"}]]


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_every_channel_of_the_gateway_has_an_egress_route(overlay: str) -> None:
    """The gateway may leave only through proxies: a channel without a route would go direct
    and be refused by the NetworkPolicy."""
    docs = render(overlay)
    routes_file = _named(docs, "ConfigMap", "gateway-egress-routes")["data"]["egress-routes.json"]
    [server] = _named(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    channels = [
        e["name"].split("__")[1].lower()
        for e in server["env"]
        if e["name"].startswith("GATEWAY_CHANNELS__") and e["name"].endswith("__KIND")
    ]
    routes = parse_routes(json.loads(routes_file), channels, every_channel=True)
    assert {route.channel for route in routes} == set(channels)
    assert all(route.proxy for route in routes)


# What the services export to Prometheus (paysuite.runtime.metrics and the measurements modules).
EXPORTED = {
    "rpc_server_duration_milliseconds",
    "rpc_client_duration_milliseconds",
    "paysuite_payments_total",
    "paysuite_channel_duration_milliseconds",
    "paysuite_outbox_backlog",
    "paysuite_outbox_lag_seconds",
    "paysuite_recon_run_duration_seconds",
    "paysuite_ledger_transfers_total",
    "paysuite_janitor_backlog",
    "paysuite_recon_open_items",
}


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_the_grafana_dashboard_charts_only_what_the_services_export(overlay: str) -> None:
    config_map = _named(render(overlay), "ConfigMap", "grafana-dashboard-paysuite")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["paysuite.json"])
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 10
    for panel in panels:
        for target in panel["targets"]:
            # Label names stand in by (...) and {...}; what is left names metrics.
            expr = re.sub(r"by \([^)]*\)|\{[^}]*\}", "", target["expr"])
            names = set(re.findall(r"\b(?:rpc|paysuite)_[a-z_]+\b", expr))
            assert names, panel["title"]
            stems = {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}
            assert stems <= EXPORTED, (panel["title"], stems - EXPORTED)
