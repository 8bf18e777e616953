"""The agent's manifests parse, and grant no more than the agent needs."""

from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
SERVICE_ACCOUNT = "system:serviceaccount:ai-scheduler:ai-scheduler-agent"


def _objects(name: str) -> dict[str, dict]:
    with open(DEPLOY / name, encoding="utf-8") as handle:
        return {doc["kind"]: doc for doc in yaml.safe_load_all(handle) if doc}


@pytest.fixture(scope="module")
def daemonset_file() -> dict[str, dict]:
    return _objects("agent-daemonset.yaml")


@pytest.fixture(scope="module")
def policy_file() -> dict[str, dict]:
    return _objects("agent-admission-policy.yaml")


def test_the_files_hold_the_expected_kinds(daemonset_file: dict, policy_file: dict) -> None:
    assert set(daemonset_file) == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}
    assert set(policy_file) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def test_rbac_grants_only_patch_on_nodes(daemonset_file: dict) -> None:
    assert daemonset_file["ClusterRole"]["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]
    subject = daemonset_file["ClusterRoleBinding"]["subjects"][0]
    assert f"system:serviceaccount:{subject['namespace']}:{subject['name']}" == SERVICE_ACCOUNT


def test_the_pod_adds_only_perfmon_and_mounts_only_host_sysfs_read_only(daemonset_file: dict) -> None:
    pod = daemonset_file["DaemonSet"]["spec"]["template"]["spec"]
    assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["PERFMON"]}
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert all(mount["readOnly"] for mount in container["volumeMounts"])
    assert {v["hostPath"]["path"] for v in pod["volumes"]} == {"/sys", "/etc/ai-scheduler"}
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in container["env"]
    assert container["command"] == ["python", "-m", "telemetry.agent"]
    assert "--cgroup=/host/sys/fs/cgroup" in container["args"] and "--sys=/host/sys" in container["args"]


def test_the_policy_binds_the_agent_to_its_own_nodes_annotation(policy_file: dict) -> None:
    policy = policy_file["ValidatingAdmissionPolicy"]
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert SERVICE_ACCOUNT in spec["matchConditions"][0]["expression"]
    rule = spec["matchConstraints"]["resourceRules"][0]
    assert rule["resources"] == ["nodes", "nodes/status"] and "UPDATE" in rule["operations"]
    cel = " ".join(str(v.get("expression", "")) for v in spec["variables"] + spec["validations"])
    for fragment in (
        '"authentication.kubernetes.io/node-name" in request.userInfo.extra',
        "object.metadata.name == variables.boundNode",
        '"ai-scheduler.io/node-state"',
        "oldObject.metadata.annotations",
        "object.spec",
    ):
        assert fragment in cel
    binding = policy_file["ValidatingAdmissionPolicyBinding"]["spec"]
    assert binding == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
