"""The preflight's checks as functions: fake reviews, fake chat clients, NodeStates and weights files."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cluster.clock import FakeClock
from cluster.config import Settings
from cluster.nodestate import ANNOTATION, NodeState, Summary
from llm.client import CallErrorKind, ChatRequest, Completion, LLMCallError
from runtime import preflight
from runtime.preflight import Verdict

NOW = 1_800_000_000.0


def settings(**sections: Any) -> Settings:
    return Settings.model_validate(sections)


def raw_node(name: str, annotation: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotation is not None:
        meta["annotations"] = {ANNOTATION: annotation}
    return {"metadata": meta}


def state(name: str, *, age: float = 0.0) -> NodeState:
    return NodeState(node=name, timestamp=NOW - age, metrics={"cpi": Summary(1.2, 0.1, 1.4)})


class Chat:
    """A ChatClient that raises `error`, or answers, and records the request."""

    def __init__(self, error: LLMCallError | None = None) -> None:
        self.error = error
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest, *, timeout: float) -> Completion:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return Completion(content="OK", choices=1)


# -- permissions ----------------------------------------------------------------------------------------------


def test_lease_permissions_are_asked_in_the_lease_namespace_and_by_name_where_rbac_names_it() -> None:
    election = {"enabled": True, "lease_name": "sched", "lease_namespace": "ai-scheduler"}
    wanted = {str(p): attributes for p, attributes in preflight.wanted_permissions(settings(leader_election=election))}
    binding = {"verb": "create", "group": "", "resource": "pods", "subresource": "binding"}
    assert wanted["create pods/binding"] == binding
    lease = {"group": "coordination.k8s.io", "resource": "leases", "namespace": "ai-scheduler"}
    assert wanted["create leases.coordination.k8s.io"] == {"verb": "create", **lease}
    assert wanted["get leases.coordination.k8s.io"] == {"verb": "get", **lease, "name": "sched"}
    assert wanted["update leases.coordination.k8s.io"] == {"verb": "update", **lease, "name": "sched"}
    assert not any(p.resource == "leases" for p, _ in preflight.wanted_permissions(settings())), "only with election"


def test_a_denial_without_a_reason_still_says_what_the_permission_is_for() -> None:
    def review(attributes: Mapping[str, str]) -> tuple[bool, str]:
        return attributes["verb"] != "watch", ""

    rows = {row.name: row for row in preflight.check_permissions(review, settings())}
    assert rows["permission watch nodes"].verdict is Verdict.FAIL
    assert rows["permission watch nodes"].detail == "denied; needed for: the node informer's watch"
    assert rows["permission list nodes"].verdict is Verdict.PASS


# -- telemetry ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "verdict", "detail"),
    [
        pytest.param(
            [raw_node("a", state("a").to_json()), raw_node("b", "{not json")],
            Verdict.WARN,
            "1/2 nodes have fresh telemetry (max age 120s); unusable: b",
            id="an unparsable annotation is unusable",
        ),
        pytest.param(
            [raw_node("a", state("a", age=121).to_json())],
            Verdict.FAIL,
            "0/1 nodes have fresh telemetry (max age 120s); stale: a",
            id="older than telemetry.max_age_seconds is stale",
        ),
        pytest.param(
            [raw_node(f"n{i}") for i in range(7)],
            Verdict.FAIL,
            "no NodeState: n0, n1, n2, n3, n4 and 2 more",
            id="many missing nodes are summarised",
        ),
        pytest.param([], Verdict.FAIL, "the cluster has no nodes", id="no nodes at all"),
    ],
)
def test_telemetry_from_annotations(nodes: list[dict[str, Any]], verdict: Verdict, detail: str) -> None:
    row = preflight.check_telemetry(nodes, settings=settings(), now=NOW)
    assert row.verdict is verdict
    assert detail in row.detail


def test_telemetry_from_another_source_uses_its_states_and_names_it_in_the_fix() -> None:
    configured = settings(telemetry={"source": "prometheus", "prometheus_url": "http://prom:9090"})
    nodes = [raw_node("a", state("a").to_json()), raw_node("b")]
    row = preflight.check_telemetry(nodes, settings=configured, now=NOW, states={"b": state("b")})
    assert row.verdict is Verdict.WARN
    assert row.detail.startswith("1/2 nodes have fresh telemetry (max age 120s, from prometheus); no NodeState: a")
    assert "Prometheus at http://prom:9090" in row.fix


# -- weights --------------------------------------------------------------------------------------------------


def test_corrupt_weights_fail_with_the_training_command(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"not a checkpoint")
    row = preflight.check_weights(settings(scoring={"model_path": str(path)}))
    assert row.verdict is Verdict.FAIL
    assert "unreadable" in row.detail and "retrain" not in row.detail
    assert row.detail.endswith("; the chain would run without the transformer tier")
    assert "`python -m training.train`" in row.fix


# -- the LLM --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "verdict", "detail"),
    [
        pytest.param({"llm": {"enabled": False}}, Verdict.SKIP, "llm.enabled: false", id="switched off"),
        pytest.param({}, Verdict.SKIP, "no HUGGINGFACE_TOKEN and no llm.endpoint", id="no token, no endpoint"),
        pytest.param(
            {"huggingface_token": "sk-other"}, Verdict.FAIL, "needs a Hugging Face token", id="a non-HF token"
        ),
    ],
)
def test_the_llm_is_asked_only_when_configured(configured: dict[str, Any], verdict: Verdict, detail: str) -> None:
    chat = Chat()
    row = preflight.check_llm(settings(**configured), clock=FakeClock(), client=chat)
    assert (row.verdict, chat.requests) == (verdict, [])
    assert detail in row.detail


def test_one_request_for_one_token() -> None:
    chat = Chat()
    row = preflight.check_llm(settings(llm={"endpoint": "http://llm:8000"}), clock=FakeClock(), client=chat)
    assert row.verdict is Verdict.PASS
    assert row.detail.startswith("meta-llama/Llama-3.3-70B-Instruct at http://llm:8000 answered a 1-token request")
    (request,) = chat.requests
    assert request.max_tokens == 1


@pytest.mark.parametrize(
    ("error", "token", "verdict", "fix"),
    [
        pytest.param(
            LLMCallError(CallErrorKind.CLIENT_ERROR, "HTTP 401", status=401),
            "hf_x",
            Verdict.FAIL,
            "the token was refused: set HUGGINGFACE_TOKEN",
            id="401 with a token: the token is wrong",
        ),
        pytest.param(
            LLMCallError(CallErrorKind.CLIENT_ERROR, "HTTP 401", status=401),
            None,
            Verdict.FAIL,
            "the endpoint wants a token",
            id="401 without a token: one is needed",
        ),
        pytest.param(
            LLMCallError(CallErrorKind.CLIENT_ERROR, "HTTP 404", status=404),
            None,
            Verdict.FAIL,
            "check llm.model / LLM_MODEL",
            id="404: the model or the path",
        ),
        pytest.param(
            LLMCallError(CallErrorKind.RATE_LIMITED, "HTTP 429", status=429),
            None,
            Verdict.WARN,
            "throttles",
            id="429 works, throttled",
        ),
        pytest.param(
            LLMCallError(CallErrorKind.TIMEOUT, "timed out"),
            None,
            Verdict.FAIL,
            "raise llm.timeout",
            id="a timeout",
        ),
        pytest.param(
            LLMCallError(CallErrorKind.SERVER_ERROR, "HTTP 503", status=503),
            None,
            Verdict.FAIL,
            "check its logs",
            id="5xx",
        ),
        pytest.param(
            LLMCallError(CallErrorKind.BAD_RESPONSE, "not JSON"),
            None,
            Verdict.FAIL,
            "OpenAI-compatible chat-completions server",
            id="not a chat-completions server",
        ),
    ],
)
def test_each_failure_gets_its_fix(error: LLMCallError, token: str | None, verdict: Verdict, fix: str) -> None:
    configured = settings(llm={"endpoint": "http://llm:8000"}, huggingface_token=token)
    row = preflight.check_llm(configured, clock=FakeClock(), client=Chat(error))
    assert row.verdict is verdict
    assert row.detail.endswith(str(error))
    assert fix in row.fix


def test_the_router_unreachable_points_at_the_network() -> None:
    configured = settings(huggingface_token="hf_x")
    error = LLMCallError(CallErrorKind.CONNECTION, "connection to the LLM endpoint failed (ConnectError)")
    row = preflight.check_llm(configured, clock=FakeClock(), client=Chat(error))
    assert row.verdict is Verdict.FAIL
    assert "the Hugging Face router (provider auto)" in row.detail
    assert "router.huggingface.co" in row.fix
