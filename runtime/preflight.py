"""The preflight (`python scheduler.py check`): is everything the scheduler needs in place before it runs?

In order: the configuration loads; the API server answers; every permission in `runtime.permissions` is
granted (one SelfSubjectAccessReview each, the lease's only with leader election on); how many nodes have
fresh telemetry; the transformer's weights load; the LLM endpoint answers one tiny request (when a token
or an endpoint is set). Each check gives a `Check` row — pass, warn, fail or skip, what it found and, for
a warning or failure, the fix. A check that needs what an earlier one could not provide is skipped, so
one cause shows once.

Functional core: every check takes its dependencies (settings, the `Kube` connection or its review call,
a clock, the chat client) and returns rows; nothing here prints or exits. `scheduler.py check` renders the
rows and exits 1 when any failed. No row ever carries the token.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cluster import nodestate
from cluster.clock import Clock
from cluster.config import ConfigError, Settings
from cluster.errors import UserError
from cluster.nodestate import NodeState
from llm.availability import unavailable_reason
from runtime.app import telemetry_source
from runtime.kube import ApiException, Kube, TransportError
from runtime.permissions import CLUSTER, LEASE, SHADOW, Permission
from scoring.transformer import ModelUnavailableError, missing, model_path
from telemetry.sources.prometheus import PrometheusSource

if TYPE_CHECKING:
    from llm.client import ChatClient, LLMCallError

CONFIG_DOCS = "docs/configuration.md"
CLUSTER_ROLE = "deploy/rbac.yaml"
LEASE_ROLE = "deploy/lease-rbac.yaml"
SHADOW_ROLE = "deploy/components/shadow"
AGENT = "deploy/components/agent"
TRAIN = "`python -m training.train`"


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    """Works, but not as well as it could (the scheduler runs; look at it)."""
    FAIL = "fail"
    """The scheduler would not work, or would run without a part it is configured to use."""
    SKIP = "skip"
    """Not checked: switched off, or an earlier check failed."""


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.verdict.value, "detail": self.detail, "fix": self.fix}


def failed(checks: Sequence[Check]) -> bool:
    return any(c.verdict is Verdict.FAIL for c in checks)


Review = Callable[[Mapping[str, str]], tuple[bool, str]]
"""`Kube.access_review`: allowed, and the authorizer's reason."""


# -- configuration and cluster -------------------------------------------------------------------------------


def check_config(load: Callable[[], Settings], where: str) -> tuple[Check, Settings | None]:
    try:
        settings = load()
    except ConfigError as exc:
        fix = f"correct the key named in the message ({CONFIG_DOCS} lists every key, its default and what is allowed)"
        return Check("config", Verdict.FAIL, str(exc), fix), None
    token = "set" if settings.huggingface_token else "not set"
    return Check("config", Verdict.PASS, f"{where}: valid (HUGGINGFACE_TOKEN {token})"), settings


def check_cluster(connect: Callable[[], Kube]) -> tuple[Check, Kube | None]:
    fix = (
        "point the scheduler at the cluster: --kubeconfig, KUBECONFIG or scheduler.kubeconfig (or --server for a "
        "plain URL); in a pod, its service account token; `kubectl version` with the same kubeconfig must answer"
    )
    try:
        kube = connect()
        version = kube.version() or {}
    except UserError as exc:  # KubeConnectError: no configuration, or the server did not answer
        return Check("cluster", Verdict.FAIL, str(exc), fix), None
    except (ApiException, *TransportError) as exc:
        return Check("cluster", Verdict.FAIL, f"the API server stopped answering: {_cause(exc)}", fix), None
    return Check("cluster", Verdict.PASS, f"{kube.host} answers: Kubernetes {version.get('gitVersion', '?')}"), kube


def _cause(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return type(exc).__name__


# -- permissions ----------------------------------------------------------------------------------------------


def wanted_permissions(settings: Settings) -> list[tuple[Permission, dict[str, str]]]:
    """Every permission the scheduler will use with these settings, with the review attributes that ask for it.

    The lease's get and update name the lease: RBAC may grant them for that one name only (deploy/).
    """
    wanted = [(p, _attributes(p)) for p in CLUSTER]
    if settings.scheduler.shadow_mode:
        wanted += [(p, _attributes(p)) for p in SHADOW]
    election = settings.leader_election
    if election.enabled:
        for p in LEASE:
            attributes = _attributes(p) | {"namespace": election.lease_namespace}
            if p.verb != "create":
                attributes["name"] = election.lease_name
            wanted.append((p, attributes))
    return wanted


def _attributes(p: Permission) -> dict[str, str]:
    attributes = {"verb": p.verb, "group": p.group, "resource": p.resource}
    if p.subresource:
        attributes["subresource"] = p.subresource
    return attributes


def check_permissions(review: Review, settings: Settings) -> list[Check]:
    rows = []
    wanted = wanted_permissions(settings)
    for p, attributes in wanted:
        name = f"permission {p}"
        try:
            allowed, reason = review(attributes)
        except (ApiException, *TransportError) as exc:
            left = len(wanted) - len(rows)
            fix = (
                "let the scheduler's user create selfsubjectaccessreviews (the built-in system:basic-user role "
                "does), or check each permission with `kubectl auth can-i VERB RESOURCE --as=system:serviceaccount:"
                "NAMESPACE:NAME`"
            )
            detail = f"cannot ask the API server ({_cause(exc)}); {left} permission(s) unchecked"
            return [*rows, Check("permissions", Verdict.WARN, detail, fix)]
        if allowed:
            rows.append(Check(name, Verdict.PASS, f"granted: {p.why}"))
            continue
        group = f'apiGroups: ["{p.group}"]'
        if "namespace" in attributes:
            where = f"the Role in namespace {attributes['namespace']} ({LEASE_ROLE})"
        elif p in SHADOW:
            where = f"the shadow-mode ClusterRole (include the component {SHADOW_ROLE})"
        else:
            where = f"the scheduler's ClusterRole ({CLUSTER_ROLE})"
        fix = f"grant `{p.verb}` on `{p.resource_path}` ({group}) in {where}, bound to the scheduler's ServiceAccount"
        detail = f"denied{f' ({reason})' if reason else ''}; needed for: {p.why}"
        rows.append(Check(name, Verdict.FAIL, detail, fix))
    return rows


# -- telemetry ------------------------------------------------------------------------------------------------


def check_telemetry(
    nodes: Sequence[Mapping[str, Any]],
    *,
    settings: Settings,
    now: float,
    states: Mapping[str, NodeState] | None = None,
) -> Check:
    """How many nodes have fresh telemetry, by the scheduler's own rules (`cluster.nodestate`).

    `states` are the configured source's NodeStates (Prometheus, file); None reads the nodes' annotations.
    """
    telemetry = settings.telemetry
    if not nodes:
        return Check("telemetry", Verdict.FAIL, "the cluster has no nodes", "join worker nodes to the cluster")
    missing_names, invalid, stale = [], [], []
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name") or "")
        if states is None:
            raw = ((node.get("metadata") or {}).get("annotations") or {}).get(nodestate.ANNOTATION)
            state = nodestate.parse(raw, node=name) if raw else None
        else:
            state = states.get(name)
        if state is None:
            missing_names.append(name)
        elif not state.known:
            invalid.append(name)
        elif not nodestate.age_out(state, now=now, max_age_seconds=telemetry.max_age_seconds).known:
            stale.append(name)
    fresh = len(nodes) - len(missing_names) - len(invalid) - len(stale)
    parts = [f"{fresh}/{len(nodes)} nodes have fresh telemetry (max age {telemetry.max_age_seconds:g}s"]
    parts[0] += "" if states is None else f", from {telemetry.source}"
    parts[0] += ")"
    for label, names in (("no NodeState", missing_names), ("unusable", invalid), ("stale", stale)):
        if names:
            parts.append(f"{label}: {_some(names)}")
    detail = "; ".join(parts)
    if fresh == len(nodes):
        return Check("telemetry", Verdict.PASS, detail)
    fix = _telemetry_fix(settings)
    if fresh == 0:
        return Check("telemetry", Verdict.FAIL, detail + "; every node is scored as typical", fix)
    return Check("telemetry", Verdict.WARN, detail + "; those nodes are scored as typical", fix)


def _telemetry_fix(settings: Settings) -> str:
    telemetry = settings.telemetry
    if telemetry.source == "prometheus":
        return (
            f"make Prometheus at {telemetry.prometheus_url} scrape the node agent's ai_scheduler_node_* gauges "
            f"(the agent DaemonSet, {AGENT}), or set telemetry.queries"
        )
    if telemetry.source == "file":
        return f"keep telemetry.file_path ({telemetry.file_path}) written with a fresh NodeState per node"
    return (
        f"deploy the node agent DaemonSet ({AGENT}, part of `kubectl apply -k deploy/`) and check its pods on the "
        f"nodes named: it publishes {nodestate.ANNOTATION} on each node every window"
    )


def _some(names: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# -- transformer weights --------------------------------------------------------------------------------------


def check_weights(settings: Settings) -> Check:
    """The weights load end to end (`scoring.transformer.model.load`, a dry run included).

    A failure fails the check although the scheduler still runs: no setting takes the transformer out of the
    chain, so missing weights mean the configured chain silently runs without its second tier.
    """
    name = "transformer weights"
    path = model_path(settings.scoring.model_path)
    fix = f"train them with {TRAIN} (or restore the shipped scoring/transformer/model.pt), or set scoring.model_path"
    try:
        if not path.is_file():
            raise missing(path)
        from scoring.transformer import model  # noqa: PLC0415 - torch loads only for this check

        checkpoint = model.load(path)
    except ModelUnavailableError as exc:
        text = str(exc)
        head, sep, tail = text.rpartition("; ")
        detail = head if sep and tail.startswith(("retrain", "train")) else text
        return Check(name, Verdict.FAIL, f"{detail}; the chain would run without the transformer tier", fix)
    size = f"{len(checkpoint.model.members)} member(s), {model.parameters(checkpoint.model):,} parameters"
    return Check(name, Verdict.PASS, f"{path}: {size}, a dry run is finite")


# -- the LLM endpoint -----------------------------------------------------------------------------------------

TOKEN_FIX = (
    "set HUGGINGFACE_TOKEN to a valid Hugging Face token (hf_..., fine-grained with the 'Make calls to Inference "
    "Providers' permission), or LLM_ENDPOINT to a self-hosted OpenAI-compatible server"
)
ENDPOINT_FIX = "check llm.endpoint / LLM_ENDPOINT (the server's base URL) and that the server is up and reachable"


def check_llm(settings: Settings, *, clock: Clock, client: "ChatClient | None" = None) -> Check:
    """One chat-completions request for one token, when the tier is configured (`client` replaces the real one)."""
    name, llm = "llm", settings.llm
    if not llm.enabled:
        return Check(name, Verdict.SKIP, "the LLM tier is off (llm.enabled: false); the local tiers decide")
    if settings.huggingface_token is None and not llm.endpoint:
        detail = "the LLM tier is off: no HUGGINGFACE_TOKEN and no llm.endpoint; the local tiers decide"
        return Check(name, Verdict.SKIP, detail)
    reason = unavailable_reason(settings)
    if reason is not None:
        return Check(name, Verdict.FAIL, reason, TOKEN_FIX)
    from llm import client as chat  # noqa: PLC0415 - huggingface_hub loads only when there is an LLM to ask

    if client is None:
        client = chat.HubChatClient(
            model=llm.model,
            endpoint=llm.endpoint,
            provider=llm.provider,
            token=settings.huggingface_token,
        )
    where = llm.endpoint or f"the Hugging Face router (provider {llm.provider})"
    request = chat.ChatRequest(
        messages=[{"role": "user", "content": "Reply with the word OK."}],
        schema={},
        max_tokens=1,
        temperature=0.0,
        seed=None,
    )
    started = clock.monotonic()
    try:
        client.complete(request, timeout=llm.timeout)
    except chat.LLMCallError as exc:
        verdict, fix = _llm_fix(exc, settings)
        return Check(name, verdict, f"{llm.model} at {where}: {exc}", fix)
    elapsed = (clock.monotonic() - started) * 1000
    return Check(name, Verdict.PASS, f"{llm.model} at {where} answered a 1-token request in {elapsed:.0f} ms")


def _llm_fix(exc: "LLMCallError", settings: Settings) -> tuple[Verdict, str]:
    """The verdict and the fix for a failed request."""
    kind, status = str(exc.kind), exc.status
    router = not settings.llm.endpoint
    if status in (401, 403):
        if settings.huggingface_token is None:
            return Verdict.FAIL, "the endpoint wants a token: set HUGGINGFACE_TOKEN (sent as the bearer token)"
        return Verdict.FAIL, "the token was refused: " + TOKEN_FIX
    if status == 404:
        fix = "check llm.model / LLM_MODEL (the model name the endpoint serves)"
        return Verdict.FAIL, fix + ("" if router else " and that llm.endpoint is the base URL, without /v1/...")
    if kind == "rate_limited":
        return Verdict.WARN, "the endpoint throttles this token: lower llm.max_concurrency or raise the plan's limit"
    if kind in ("connection", "timeout"):
        if router:
            return Verdict.FAIL, "check that this machine reaches router.huggingface.co (proxy, firewall)"
        slow = ", or raise llm.timeout" if kind == "timeout" else ""
        return Verdict.FAIL, ENDPOINT_FIX + slow
    if kind == "server_error":
        return Verdict.FAIL, "the endpoint failed: check its logs, or pick another llm.provider / llm.endpoint"
    if kind == "bad_response":
        return Verdict.FAIL, "point llm.endpoint at an OpenAI-compatible chat-completions server (TGI, vLLM, llama.cpp)"
    return Verdict.FAIL, "check llm.model, llm.provider and llm.endpoint against what the endpoint serves"


# -- all of it ------------------------------------------------------------------------------------------------


def run(
    load: Callable[[], Settings],
    connect: Callable[[Settings], Kube],
    *,
    where: str,
    clock: Clock,
    chat_client: "ChatClient | None" = None,
) -> list[Check]:
    """Every check in order; `connect` gives a connection that answered once (`runtime.app.connect`)."""
    config_row, settings = check_config(load, where)
    if settings is None:
        later = ("cluster", "permissions", "telemetry", "transformer weights", "llm")
        return [config_row, *(Check(n, Verdict.SKIP, "needs a valid configuration") for n in later)]
    cluster_row, kube = check_cluster(lambda: connect(settings))
    rows = [config_row, cluster_row]
    if kube is None:
        rows += [Check(n, Verdict.SKIP, "needs the cluster") for n in ("permissions", "telemetry")]
    else:
        rows += check_permissions(kube.access_review, settings)
        rows.append(_live_telemetry(kube, settings, clock))
    rows.append(check_weights(settings))
    rows.append(check_llm(settings, clock=clock, client=chat_client))
    return rows


def _live_telemetry(kube: Kube, settings: Settings, clock: Clock) -> Check:
    """One list of nodes, and the configured source's states (annotations need nothing more)."""
    try:
        nodes = kube.list_nodes()
    except (ApiException, *TransportError) as exc:
        return Check("telemetry", Verdict.FAIL, f"cannot list nodes: {_cause(exc)}", "grant `list` on `nodes`")
    source = telemetry_source(settings, clock)
    if source is None:
        return check_telemetry(nodes, settings=settings, now=clock.now())
    if isinstance(source, PrometheusSource) and not source.poll_once():
        url = settings.telemetry.prometheus_url
        return Check("telemetry", Verdict.FAIL, f"Prometheus at {url} did not answer a query", _telemetry_fix(settings))
    return check_telemetry(nodes, settings=settings, now=clock.now(), states=source.states())
