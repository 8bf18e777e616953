"""The rendered deployment: valid Kubernetes objects, RBAC exactly as runtime/permissions.py lists it,
and a Deployment that runs the deployed config with leader election, probes, limits and no privileges."""

import base64
import json
from pathlib import Path

import kubernetes_validate
import pytest

from cluster import config
from runtime import permissions
from tests.deploy.conftest import only

NAMESPACE = "ai-scheduler"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
                  "ValidatingAdmissionPolicyBinding"}  # fmt: skip
# The oldest Kubernetes the manifests target (ValidatingAdmissionPolicy v1 is GA in 1.30) and the newest
# that kubernetes-validate ships schemas for.
VERSIONS = ("1.30", kubernetes_validate.latest_version())


def granted(rules: list[dict]) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) for every combination a list of RBAC rules allows."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def needed(listed: tuple[permissions.Permission, ...]) -> set[tuple[str, str, str]]:
    return {(p.group, p.resource_path, p.verb) for p in listed}


def quantity(value: str) -> float:
    """A CPU or memory quantity as a number (enough of the Kubernetes grammar for these manifests)."""
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in suffixes.items():
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * factor
    return float(value)


@pytest.fixture(scope="module")
def deployment(rendered: list[dict]) -> dict:
    return only(rendered, "Deployment", "ai-llama-scheduler")


@pytest.fixture(scope="module")
def pod(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod: dict) -> dict:
    (scheduler,) = pod["containers"]
    return scheduler


@pytest.fixture(scope="module")
def settings(rendered: list[dict], tmp_path_factory: pytest.TempPathFactory) -> config.Settings:
    """The generated ConfigMap's config, loaded as the scheduler loads it (no environment, no .env)."""
    path = Path(tmp_path_factory.mktemp("deployed")) / "config.yaml"
    path.write_text(only(rendered, "ConfigMap")["data"]["config.yaml"])
    return config.load(path, environ={}, dotenv=None)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_is_valid_against_the_kubernetes_schema(rendered: list[dict], version: str):
    problems = []
    for obj in rendered:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
    assert not problems


def test_namespaced_objects_are_in_ai_scheduler_and_cluster_scoped_ones_in_none(rendered: list[dict]):
    misplaced = [
        f"{o['kind']}/{o['metadata']['name']} in {o['metadata'].get('namespace')}"
        for o in rendered
        if o["metadata"].get("namespace") != (None if o["kind"] in CLUSTER_SCOPED else NAMESPACE)
    ]
    assert not misplaced
    assert only(rendered, "Namespace")["metadata"]["name"] == NAMESPACE


def test_the_cluster_role_has_no_wildcard_and_nothing_on_secrets(rendered: list[dict]):
    role = only(rendered, "ClusterRole", "ai-llama-scheduler")
    assert '"*"' not in json.dumps(role)
    assert not any("secrets" in rule.get("resources", []) for rule in role["rules"])
    assert not any("resourceNames" in rule or "nonResourceURLs" in rule for rule in role["rules"])


def test_the_cluster_role_grants_exactly_what_the_code_uses(rendered: list[dict]):
    role = only(rendered, "ClusterRole", "ai-llama-scheduler")
    assert granted(role["rules"]) == needed(permissions.CLUSTER)


def test_the_lease_role_grants_exactly_the_lease_permissions_in_the_configured_namespace(
    rendered: list[dict], settings: config.Settings
):
    role = only(rendered, "Role", "ai-llama-scheduler-lease")
    assert role["metadata"]["namespace"] == settings.leader_election.lease_namespace == NAMESPACE
    assert granted(role["rules"]) == needed(permissions.LEASE)
    for rule in role["rules"]:
        assert rule.get("resourceNames", [settings.leader_election.lease_name]) == [settings.leader_election.lease_name]


@pytest.mark.parametrize(
    ("binding_kind", "binding_name", "role_kind"),
    [
        pytest.param("ClusterRoleBinding", "ai-llama-scheduler", "ClusterRole", id="the cluster role"),
        pytest.param("RoleBinding", "ai-llama-scheduler-lease", "Role", id="the lease role"),
    ],
)
def test_the_roles_are_bound_to_the_deployments_service_account(
    rendered: list[dict], deployment: dict, pod: dict, binding_kind: str, binding_name: str, role_kind: str
):
    binding = only(rendered, binding_kind, binding_name)
    role = only(rendered, role_kind, binding["roleRef"]["name"])
    assert binding["roleRef"]["kind"] == role_kind
    assert binding.get("metadata", {}).get("namespace") == role["metadata"].get("namespace")
    account = only(rendered, "ServiceAccount", pod["serviceAccountName"])
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": deployment["metadata"]["namespace"],
        }
    ]


def test_the_deployed_config_is_valid_and_turns_on_leader_election_and_json_logs(settings: config.Settings):
    assert settings.leader_election.enabled is True
    assert settings.leader_election.lease_namespace == NAMESPACE
    assert settings.logging.format == "json"
    assert settings.huggingface_token is None


def test_the_deployment_runs_two_replicas_on_the_mounted_generated_config(
    rendered: list[dict], deployment: dict, pod: dict, container: dict
):
    assert deployment["spec"]["replicas"] == 2
    assert container["args"][:2] == ["run", "--config"]
    config_file = Path(container["args"][2])
    (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == config_file.parent]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    generated = only(rendered, "ConfigMap")
    assert volume["configMap"]["name"] == generated["metadata"]["name"]  # kustomize rewrote it to the hashed name
    assert config_file.name in generated["data"]


def test_the_token_secret_is_an_empty_template_referenced_as_optional(rendered: list[dict], container: dict):
    secret = only(rendered, "Secret")
    assert set(secret["data"]) == {config.TOKEN_ENV}
    assert base64.b64decode(secret["data"][config.TOKEN_ENV]) == b""
    (env,) = [e for e in container["env"] if e["name"] == config.TOKEN_ENV]
    assert env["valueFrom"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": config.TOKEN_ENV,
        "optional": True,
    }


def test_the_probes_use_the_metrics_port_of_the_deployed_config(container: dict, settings: config.Settings):
    (port,) = [p for p in container["ports"] if p["name"] == "metrics"]
    assert port["containerPort"] == settings.metrics.port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


def test_cpu_and_memory_are_requested_and_limited(container: dict):
    resources = container["resources"]
    for name in ("cpu", "memory"):
        assert quantity(resources["requests"][name]) <= quantity(resources["limits"][name]), name


def test_the_pod_runs_without_root_privileges_or_a_writable_root(pod: dict, container: dict):
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "runAsUser" not in security or security["runAsUser"] != 0


def test_tmp_and_home_are_a_writable_empty_dir(pod: dict, container: dict):
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume
    assert {"name": "HOME", "value": "/tmp"} in container["env"]


def test_the_disruption_budget_keeps_one_of_the_deployments_pods(rendered: list[dict], deployment: dict):
    budget = only(rendered, "PodDisruptionBudget")["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget.get("minAvailable") == 1 or budget.get("maxUnavailable") == 1
    assert budget.get("minAvailable", 0) < deployment["spec"]["replicas"]


def test_the_service_targets_the_metrics_port_of_the_deployed_config(
    rendered: list[dict], deployment: dict, container: dict, settings: config.Settings
):
    service = only(rendered, "Service")["spec"]
    assert service["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["ports"]
    (target,) = [p for p in container["ports"] if port["targetPort"] in (p["name"], p["containerPort"])]
    assert target["containerPort"] == port["port"] == settings.metrics.port


def test_the_scheduler_and_the_agent_run_the_same_tagged_image(rendered: list[dict], container: dict):
    agent = only(rendered, "DaemonSet", "ai-scheduler-agent")["spec"]["template"]["spec"]["containers"][0]
    assert ":" in container["image"]
    assert agent["image"] == container["image"]
