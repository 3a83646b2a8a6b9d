"""Renders every kustomization under deploy/k8s and validates each object strictly, offline.

    python scripts/check_k8s.py            # `make k8s`; exit 1 on the first kind of failure

Each of base, the overlays and the job templates is rendered with `kubectl kustomize`, and every
object it yields is validated against the Kubernetes OpenAPI schemas bundled in the
`kubernetes-validate` package (strict: an unknown field is an error), for KUBERNETES_VERSION.
Custom resources have no bundled schema: the kinds in CUSTOM_RESOURCES are skipped by name (the
manifest tests check the fields we rely on); any other kind without a schema is an error.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = ("base", "overlays/dev", "overlays/prod", "jobs/recon-buckets")
# The oldest Kubernetes the manifests are written for (CronJob timeZone, Indexed Job
# backoffLimitPerIndex, topology spread matchLabelKeys).
KUBERNETES_VERSION = "1.32"
# Operator-defined kinds (apiVersion, kind) that kubernetes-validate has no schema for.
CUSTOM_RESOURCES = frozenset(
    {
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        # cert-manager's, for the mtls component.
        ("cert-manager.io/v1", "Certificate"),
        ("cert-manager.io/v1", "Issuer"),
    }
)

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """One object that failed validation, and why."""

    kustomization: str
    kind: str
    name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.kustomization}: {self.kind}/{self.name}: {self.problem}"


def render(kustomization: str) -> list[Manifest]:
    """The objects `kubectl kustomize` renders for deploy/k8s/<kustomization>."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError("kubectl is not on PATH")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR / kustomization)],
        check=True,
        capture_output=True,
        text=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def validate(kustomization: str, manifest: Manifest) -> Finding | None:
    """None when the object is valid (or a known custom resource), else what is wrong."""
    kind, name = manifest.get("kind", "?"), manifest.get("metadata", {}).get("name", "?")
    if (manifest.get("apiVersion"), kind) in CUSTOM_RESOURCES:
        return None
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        return Finding(kustomization, kind, name, f"{path}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError as exc:
        return Finding(kustomization, kind, name, exc.message)
    return None


def check(kustomizations: tuple[str, ...] = KUSTOMIZATIONS) -> list[Finding]:
    """Every finding over every kustomization; empty when all is valid."""
    return [
        finding
        for kustomization in kustomizations
        for manifest in render(kustomization)
        if (finding := validate(kustomization, manifest)) is not None
    ]


def main() -> int:
    findings = check()
    for finding in findings:
        sys.stderr.write(f"{finding}\n")
    if not findings:
        sys.stdout.write(
            f"{', '.join(KUSTOMIZATIONS)}: every object valid for Kubernetes {KUBERNETES_VERSION}\n"
        )
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
