"""The node agent component (deploy/components/agent), as the base renders it: its DaemonSet, RBAC that
grants no more than the agent needs, and the admission policy that confines it to its own node."""

from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, only

SERVICE_ACCOUNT = "system:serviceaccount:ai-scheduler:ai-scheduler-agent"
AGENT_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet", "ValidatingAdmissionPolicy",
               "ValidatingAdmissionPolicyBinding"}  # fmt: skip


@pytest.fixture(scope="module")
def agent(rendered: list[dict]) -> dict[str, dict]:
    """The component's objects by kind."""
    names = {"ai-scheduler-agent", "ai-scheduler-agent-own-node-state"}
    return {o["kind"]: o for o in rendered if o["metadata"]["name"] in names}


def test_the_base_includes_the_agent_as_a_component(agent: dict) -> None:
    component = yaml.safe_load((DEPLOY / "components" / "agent" / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    base = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert [str(Path(c)) for c in base["components"]] == ["components/agent"]
    assert set(agent) == AGENT_KINDS


def test_the_component_admits_privileged_pods_in_the_namespace(rendered: list[dict]) -> None:
    labels = only(rendered, "Namespace", "ai-scheduler")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def test_rbac_grants_only_patch_on_nodes(agent: dict) -> None:
    assert agent["ClusterRole"]["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]
    subject = agent["ClusterRoleBinding"]["subjects"][0]
    assert f"system:serviceaccount:{subject['namespace']}:{subject['name']}" == SERVICE_ACCOUNT
    assert agent["DaemonSet"]["spec"]["template"]["spec"]["serviceAccountName"] == subject["name"]


def test_the_pod_adds_only_perfmon_and_mounts_only_host_sysfs_read_only(agent: dict) -> None:
    pod = agent["DaemonSet"]["spec"]["template"]["spec"]
    assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["PERFMON"]}
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert all(mount["readOnly"] for mount in container["volumeMounts"])
    assert {v["hostPath"]["path"] for v in pod["volumes"]} == {"/sys", "/etc/ai-scheduler"}
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in container["env"]
    assert container["command"] == ["python", "-m", "agent"]
    assert "--cgroup=/host/sys/fs/cgroup" in container["args"] and "--sys=/host/sys" in container["args"]


def test_the_policy_binds_the_agent_to_its_own_nodes_annotation(agent: dict) -> None:
    policy = agent["ValidatingAdmissionPolicy"]
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
    binding = agent["ValidatingAdmissionPolicyBinding"]["spec"]
    assert binding == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
