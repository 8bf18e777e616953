"""The scheduler's manifests: they parse, and their RBAC grants exactly what the code calls."""

from pathlib import Path

import yaml

from cluster import config

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "scheduler.yaml"


def objects() -> dict[str, dict]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in yaml.safe_load_all(MANIFEST.read_text()) if o}


def granted(rules: list[dict]) -> set[tuple[str, str]]:
    return {(resource, verb) for rule in rules for resource in rule["resources"] for verb in rule["verbs"]}


def test_cluster_role_covers_every_call_and_nothing_destructive():
    rules = granted(objects()["ClusterRole/ai-llama-scheduler"]["rules"])
    needed = {
        ("nodes", "list"), ("nodes", "watch"), ("pods", "list"), ("pods", "watch"),
        ("pods", "patch"), ("pods/binding", "create"), ("pods/status", "patch"),
        ("events", "create"), ("events", "patch"),
    }  # fmt: skip
    assert needed <= rules
    assert not {verb for _, verb in rules} & {"delete", "deletecollection", "update", "*"}


def test_lease_role_matches_the_configured_lease():
    defaults = config.Settings().leader_election
    role = objects()["Role/ai-llama-scheduler-lease"]
    assert role["metadata"]["namespace"] == defaults.lease_namespace
    assert any(defaults.lease_name in rule.get("resourceNames", []) for rule in role["rules"])


def test_deployment_probes_the_metrics_server_and_runs_leader_election():
    deployment = objects()["Deployment/ai-llama-scheduler"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "run"
    assert container["ports"][0]["containerPort"] == config.Settings().metrics.port
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    settings = yaml.safe_load(objects()["ConfigMap/ai-llama-scheduler"]["data"]["config.yaml"])
    assert settings["leader_election"]["enabled"] is True
    assert deployment["spec"]["replicas"] >= 2
