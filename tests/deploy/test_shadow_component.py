"""`patch pods` only with shadow mode: the base grants no write on a pod but its binding and status, the
shadow component (deploy/components/shadow) adds exactly runtime/permissions.py's SHADOW, and the
preflight asks for it exactly when `scheduler.shadow_mode` is on."""

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from cluster import config
from runtime import permissions, preflight
from runtime.preflight import Verdict
from tests.deploy.conftest import DEPLOY, only
from tests.deploy.test_manifests import granted, needed

PATCH_PODS = ("", "pods", "patch")


@pytest.fixture(scope="module")
def with_shadow(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """An operator's overlay: the base plus the shadow component, rendered as `kubectl kustomize` does."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomize overlay cannot be rendered")
    overlay = Path(tmp_path_factory.mktemp("overlay"))
    base, component = (os.path.relpath(path, overlay) for path in (DEPLOY, DEPLOY / "components" / "shadow"))
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [base], "components": [component]}))
    command = [kubectl, "kustomize", str(overlay)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kubectl kustomize failed: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def rights_of(objects: list[dict], account: str) -> set[tuple[str, str, str]]:
    """Everything the cluster roles bound to the ServiceAccount `account` grant."""
    roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    return {
        right
        for binding in objects
        if binding["kind"] == "ClusterRoleBinding" and any(s["name"] == account for s in binding["subjects"])
        for right in granted(roles[binding["roleRef"]["name"]]["rules"])
    }


def test_the_base_deployment_cannot_patch_a_pod(rendered: list[dict]) -> None:
    assert PATCH_PODS not in rights_of(rendered, "ai-llama-scheduler")
    assert rights_of(rendered, "ai-llama-scheduler") == needed(permissions.CLUSTER)


def test_the_shadow_component_adds_exactly_patch_pods_for_the_scheduler(with_shadow: list[dict]) -> None:
    role = only(with_shadow, "ClusterRole", "ai-llama-scheduler-shadow")
    assert granted(role["rules"]) == needed(permissions.SHADOW) == {PATCH_PODS}
    binding = only(with_shadow, "ClusterRoleBinding", "ai-llama-scheduler-shadow")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ai-llama-scheduler", "namespace": "ai-scheduler"}
    ]
    assert rights_of(with_shadow, "ai-llama-scheduler") == needed(permissions.CLUSTER) | needed(permissions.SHADOW)


@pytest.mark.parametrize(
    ("shadow", "asked"),
    [
        pytest.param(False, False, id="binding pods needs no patch on pods"),
        pytest.param(True, True, id="shadow mode asks for patch on pods"),
    ],
)
def test_the_preflight_asks_for_patch_pods_only_in_shadow_mode(shadow: bool, asked: bool) -> None:
    settings = config.Settings.model_validate({"scheduler": {"shadow_mode": shadow}})
    wanted = {str(p) for p, _ in preflight.wanted_permissions(settings)}
    assert ("patch pods" in wanted) is asked


def test_a_shadow_scheduler_without_the_component_is_told_to_include_it() -> None:
    def review(attributes: Mapping[str, str]) -> tuple[bool, str]:
        asked = (attributes["verb"], attributes["resource"], attributes.get("subresource"))
        return asked != ("patch", "pods", None), ""

    settings = config.Settings.model_validate({"scheduler": {"shadow_mode": True}})
    rows = {row.name: row for row in preflight.check_permissions(review, settings)}
    assert rows["permission patch pods"].verdict is Verdict.FAIL
    assert "deploy/components/shadow" in rows["permission patch pods"].fix
    assert rows["permission patch pods/status"].verdict is Verdict.PASS
