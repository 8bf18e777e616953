"""Settings: `config.yaml`, then `.env`, then the environment (CONTRACTS §6), validated at start.

One model per concern, each field documented under it. Unknown keys are refused so a typo does not
silently fall back to a default. A bad value raises `ConfigError` naming the key, the value and what
is allowed; the CLI turns it into a one-line message and exit status 2. The Hugging Face token comes
only from the environment or `.env`, is held as a `SecretStr`, and never appears in a repr or log.
"""

import io
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from cluster.errors import UserError
from cluster.nodestate import METRICS
from cluster.userfiles import UserFileError, clip, read_text, yaml_document

DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
StructuredOutput = Literal["auto", "response_format", "llamacpp", "vllm", "none"]
"""How the LLM's answer is constrained (see `llm.formats`)."""

# Environment variable → dotted config key (CONTRACTS §6).
ENV_KEYS: Mapping[str, str] = {
    "SCHEDULER_NAME": "scheduler.name",
    "LLM_MODEL": "llm.model",
    "LLM_ENDPOINT": "llm.endpoint",
    "LOG_LEVEL": "logging.level",
    "LOG_FORMAT": "logging.format",
}
TOKEN_ENV = "HUGGINGFACE_TOKEN"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
"""The levels `logging.level` (env LOG_LEVEL) and `--log-level` accept."""
DAY = 86_400
"""Seconds; the longest leader-election period accepted (a longer one is a typo, and past 2^63 a crash)."""
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


class ConfigError(UserError, ValueError):
    """The configuration cannot be used; the message says which key, which value and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)


class SchedulerSettings(_Section):
    name: str = Field("ai-llama-scheduler", min_length=1)
    """`schedulerName` of the pods this scheduler places (env SCHEDULER_NAME)."""
    shadow_mode: bool = False
    """Recommend without binding: annotate pods with the node they would get (CONTRACTS §3)."""
    stats_interval: float = Field(60.0, gt=0)
    """Seconds between the summary lines in the log."""
    bind_workers: int = Field(16, ge=1, le=256)
    """Bindings in flight at once."""
    kubeconfig: str | None = None
    """Kubeconfig file; unset means in-cluster config inside a pod, else the default kubeconfig (`run --kubeconfig`
    overrides it)."""
    request_timeout: float = Field(10.0, gt=0)
    """Seconds before any call to the API server gives up."""


class LLMSettings(_Section):
    enabled: bool = True
    """Ask the LLM at all (it is also skipped when no token and no endpoint are set)."""
    model: str = Field(DEFAULT_MODEL, min_length=1)
    """Model id on the Hugging Face router, or the model name a self-hosted server expects (env LLM_MODEL)."""
    endpoint: str | None = None
    """Base URL of a self-hosted OpenAI-compatible server (TGI, vLLM, llama.cpp); unset = the HF router."""
    provider: str = "auto"
    """Inference provider on the Hugging Face router (`auto` lets the router pick); unused with `endpoint`."""
    structured_output: StructuredOutput = "auto"
    """How the answer is constrained: `auto` tries each form until the server accepts one; or pinned: OpenAI
    `response_format` JSON schema (TGI's shape on an endpoint), llama.cpp's `json_object` `schema`, vLLM
    `extra_body`, or prompt only."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    """Sampling temperature; 0 makes answers repeatable."""
    seed: int | None = 0
    """Sampling seed sent where the endpoint supports it; null sends none."""
    max_tokens: int = Field(200, ge=16, le=4096)
    """Upper bound on the answer's length in tokens."""
    max_retries: int = Field(3, ge=0, le=10)
    """Retries for 429, 5xx and timeouts (bounded by `deadline_seconds` too)."""
    timeout: float = Field(10.0, gt=0)
    """Seconds one request may take."""
    deadline_seconds: float = Field(20.0, gt=0)
    """Seconds a pod may wait for the LLM, retries included, before the next tier decides it."""
    max_concurrency: int = Field(8, ge=1, le=256)
    """LLM requests in flight at once."""
    max_candidates: int = Field(20, ge=1, le=200)
    """Candidates shown to the LLM; with more feasible nodes, the local tiers' best are sent."""
    prompt_token_budget: int = Field(3000, ge=500, le=100000)
    """Estimated tokens the prompt may use; candidates are dropped (worst first) to stay within it."""


class CacheSettings(_Section):
    enabled: bool = True
    """Reuse an LLM decision for pods of the same shape in the same cluster state."""
    ttl: float = Field(300.0, gt=0)
    """Seconds a cached decision stays valid."""
    max_size: int = Field(1000, ge=1)
    """Decisions kept."""


class CircuitBreakerSettings(_Section):
    enabled: bool = True
    """Stop calling a failing LLM for a while."""
    failure_threshold: int = Field(5, ge=1)
    """Consecutive failures that open the breaker."""
    timeout: float = Field(60.0, gt=0)
    """Seconds the breaker stays open before one trial call."""


class FallbackSettings(_Section):
    strategy: Literal["resource_balanced", "least_loaded", "round_robin"] = "resource_balanced"
    """The heuristic tier: kube-scheduler's scoring plus InterferenceAware, least requested share, or rotation."""


KUBE_SCORE_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
)
"""kube-scheduler v1.36's default score plugins and weights, in its order (`pkg/scheduler/apis/config/v1/
default_plugins.go`; VolumeBinding's score needs the StorageCapacityScoring gate): the `default` policy."""
DEFAULT_SCORE_WEIGHTS: Mapping[str, int] = MappingProxyType({**KUBE_SCORE_WEIGHTS, "InterferenceAware": 5})
"""The heuristic tier's score plugins and weights, the one default (`scoring.weights`, the heuristic, the docs,
config.yaml): kube-scheduler's default weights for its plugins, plus InterferenceAware."""


class ScoringSettings(_Section):
    model_path: str = "scoring/transformer/model.pt"
    """Weights of the local transformer scorer; a relative path is tried as given, then under the project root.
    Missing or unusable weights leave one warning and the chain without this tier."""
    latency_budget_ms: float = Field(45.0, gt=0)
    """Milliseconds the transformer may take for one pod before the heuristic tier decides it."""
    overrun_threshold: int = Field(5, ge=1)
    """Consecutive budget overruns that open the transformer tier's breaker."""
    overrun_timeout: float = Field(60.0, gt=0)
    """Seconds the transformer tier stays off after its breaker opens."""
    threads: int = Field(1, ge=1, le=64)
    """CPU threads for transformer inference."""
    burst_log_slope: float | None = Field(None, ge=0)
    """What each pod placed since a node's NodeState, beyond the few the transformer saw in training, adds to ln
    of its predicted P99 factor there (`scoring.transformer.scores.burst_calibrated`): null uses the slope fitted
    on the simulator with the shipped weights, 0 turns the calibration off."""
    harm_weight: float | None = Field(None, ge=0.0, le=10.0)
    """How much the transformer counts the harm an arriving pod does to the latency-critical pods already on a node
    against its own predicted P99 (`scoring.transformer.scores.cost`, in log: 1 weighs doubling one neighbour's P99
    as doubling the pod's own; 0 ignores the neighbours, so each pod takes the node where it alone runs best, and
    more pods land beside noisy neighbours): null uses the weight the shipped model was trained to rank with (1).
    `docs/benchmark/harm-weight.md` measures the trade."""
    accuracy_floor: float = Field(0.6, ge=0.0, le=1.0)
    """Held-out top-1 agreement with the oracle under which `python -m training.evaluate` exits 1 (gates a model).
    Agreement is on P99 in milliseconds, node speed included, where the heuristic tier reaches 0.39-0.65 and the
    shipped model 0.67-0.83; the gate also refuses a model whose mean regret is not below the heuristic's."""
    pair_accuracy_floor: float = Field(0.85, ge=0.0, le=1.0)
    """Pairwise ranking accuracy on held-out real counters below which `python -m training.evaluate` exits 1."""
    percentage_of_nodes_to_score: int = Field(0, ge=0, le=100)
    """Share of the feasible nodes the tiers score in a large cluster, as kube-scheduler's
    `percentageOfNodesToScore`: 0 adapts to the cluster's size (every node under 100 nodes, then at least 100:
    420 of 1,000, 500 of 5,000), 100 scores every feasible node. `decide` always scores every feasible node."""
    weights: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SCORE_WEIGHTS))
    """Score plugin weights of the heuristic tier (kube-scheduler's defaults plus InterferenceAware), positive
    integers by plugin name; a map given here replaces the whole default, so list every plugin that should score."""


class TelemetrySettings(_Section):
    source: Literal["annotation", "prometheus", "file"] = "annotation"
    """Where NodeStates come from: node annotations, a Prometheus server, or a JSON file."""
    max_age_seconds: float = Field(120.0, gt=0)
    """A NodeState older than this is treated as unknown."""
    prometheus_url: str = "http://prometheus.monitoring:9090"
    """Prometheus base URL for `source: prometheus`."""
    poll_interval: float = Field(15.0, gt=0)
    """Seconds between Prometheus polls."""
    queries: dict[str, str] = Field(default_factory=dict)
    """Per metric (keys: the eleven NodeState metric names), a PromQL expression returning one series per node
    (label `node`) instead of the agent's gauges, for `source: prometheus`."""
    file_path: str | None = None
    """JSON file of NodeStates keyed by node; required with `source: file`."""

    @field_validator("queries")
    @classmethod
    def _known_metrics(cls, queries: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(queries) - set(METRICS))
        if unknown:
            named = ", ".join(clip(name, 40) for name in unknown)
            raise ValueError(f"unknown metric(s) {named}; allowed: {', '.join(METRICS)}")
        return queries

    @model_validator(mode="after")
    def _file_needs_a_path(self) -> "TelemetrySettings":
        if self.source == "file" and not self.file_path:
            raise ValueError("source: file needs file_path")
        return self


class LoggingSettings(_Section):
    level: LogLevel = "INFO"
    """Log level (env LOG_LEVEL)."""
    format: Literal["text", "json"] = "text"
    """Log line format (env LOG_FORMAT)."""


class MetricsSettings(_Section):
    port: int = Field(10260, ge=0, le=65535)
    """Port of `/metrics`, `/healthz` and `/readyz`; 0 disables the server."""
    address: str = "0.0.0.0"
    """Address the metrics server listens on."""

    @field_validator("address")
    @classmethod
    def _an_address(cls, address: str) -> str:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            if not _HOSTNAME.fullmatch(address):
                raise ValueError("not an IP address or host name (e.g. 0.0.0.0, ::, 127.0.0.1, localhost)") from None
        return address


class LeaderElectionSettings(_Section):
    enabled: bool = False
    """Run several replicas; only the holder of the lease schedules."""
    lease_name: str = "ai-llama-scheduler"
    """Name of the coordination.k8s.io Lease."""
    lease_namespace: str = "kube-system"
    """Namespace of the Lease."""
    lease_duration: int = Field(15, ge=1, le=DAY)
    """Seconds a lease is valid without renewal; must exceed `renew_deadline`."""
    renew_deadline: int = Field(10, ge=1, le=DAY)
    """Seconds the leader keeps trying to renew before it stops scheduling; must exceed 1.2 × `retry_period`."""
    retry_period: int = Field(2, ge=1, le=DAY)
    """Seconds between acquire and renew attempts."""

    @model_validator(mode="after")
    def _ordered(self) -> "LeaderElectionSettings":
        if not (self.lease_duration > self.renew_deadline and 5 * self.renew_deadline > 6 * self.retry_period):
            raise ValueError(
                "needs lease_duration > renew_deadline > 1.2 * retry_period "
                f"(got {self.lease_duration}, {self.renew_deadline}, {self.retry_period})"
            )
        return self


class CollectorSettings(_Section):
    path: str | None = None
    """JSONL file that records every decision (and later outcomes) for retraining; unset disables it."""
    max_mb: float = Field(256.0, gt=0)
    """Size in MiB past which the collector stops appending (one warning); rotate the file to resume."""


class Settings(_Section):
    scheduler: SchedulerSettings = SchedulerSettings()
    """The scheduling loop and its connection to the API server."""
    llm: LLMSettings = LLMSettings()
    """The LLM tier: endpoint, model, how its answer is constrained, and its time and concurrency limits."""
    cache: CacheSettings = CacheSettings()
    """The LLM tier's decision cache."""
    circuit_breaker: CircuitBreakerSettings = CircuitBreakerSettings()
    """The LLM tier's circuit breaker."""
    fallback: FallbackSettings = FallbackSettings()
    """The heuristic tier, which decides whenever the tiers before it decline."""
    scoring: ScoringSettings = ScoringSettings()
    """The transformer tier, its evaluation gate, and the heuristic tier's plugin weights."""
    telemetry: TelemetrySettings = TelemetrySettings()
    """Where the nodes' NodeStates (CONTRACTS §1) come from and when they count as stale."""
    logging: LoggingSettings = LoggingSettings()
    """Log level and format."""
    metrics: MetricsSettings = MetricsSettings()
    """The HTTP server for `/metrics`, `/healthz` and `/readyz`."""
    leader_election: LeaderElectionSettings = LeaderElectionSettings()
    """Several replicas, one scheduling at a time."""
    collector: CollectorSettings = CollectorSettings()
    """The decision log kept for retraining the transformer."""
    huggingface_token: SecretStr | None = None
    """From HUGGINGFACE_TOKEN only (environment or .env), never from config.yaml."""


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def _describe(error: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (check the spelling against config.yaml)"
    value = clip(repr(error.get("input")), 80)
    return f"{key}: {value} is not allowed: {clip(error['msg'])}"


def _origin(error: Mapping[str, Any], origins: Mapping[str, str], config_path: Path) -> str:
    """Where the offending value came from: the environment variable, the `.env` file, or the config file."""
    loc = ".".join(str(part) for part in error["loc"])
    for key, origin in origins.items():
        if loc == key or loc.startswith(key + "."):
            return origin
    return str(config_path)


def _read_config(config_path: Path) -> dict[str, Any]:
    try:
        loaded = yaml_document(config_path, "a config")
    except UserFileError as exc:
        raise ConfigError(str(exc)) from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{config_path}: the top level must be a mapping of sections, not {type(loaded).__name__}")
    tree = loaded or {}
    if "huggingface_token" in tree:
        raise ConfigError(f"{config_path}: huggingface_token is not read from config files; set {TOKEN_ENV}")
    return tree


def _read_dotenv(path: Path) -> dict[str, str | None]:
    try:
        text = read_text(path)
    except UserFileError as exc:
        raise ConfigError(str(exc)) from None
    if "\x00" in text:
        raise ConfigError(f"{path}: contains a NUL byte; a .env file is KEY=value lines of text")
    return dict(dotenv_values(stream=io.StringIO(text)))


def load(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv: str | Path | None = ".env",
) -> Settings:
    """Settings from `path` (default `config.yaml` if present), `.env` and `environ`, in rising precedence.

    A refused value is blamed on where it came from: the config file, the `.env` file or the environment
    variable that set it."""
    explicit = path is not None
    config_path = Path(path) if path is not None else Path("config.yaml")
    tree: dict[str, Any] = {}
    if config_path.exists():
        tree = _read_config(config_path)
    elif explicit:
        raise ConfigError(f"{config_path}: no such config file")
    from_file = _read_dotenv(Path(dotenv)) if dotenv is not None and Path(dotenv).exists() else {}
    environment = os.environ if environ is None else environ
    origins: dict[str, str] = {}
    for variable, key in ENV_KEYS.items():
        value: str | None
        if variable in environment:
            value, origin = environment[variable], f"environment variable {variable}"
        else:
            value, origin = from_file.get(variable), f"{dotenv} ({variable})"
        if value not in (None, ""):
            _set(tree, key, value)
            origins[key] = origin
    token = environment[TOKEN_ENV] if TOKEN_ENV in environment else from_file.get(TOKEN_ENV)
    if token:
        tree["huggingface_token"] = token
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        grouped: dict[str, list[str]] = {}
        for error in exc.errors():
            grouped.setdefault(_origin(error, origins, config_path), []).append(_describe(error))
        raise ConfigError("; ".join(f"{where}: {'; '.join(problems)}" for where, problems in grouped.items())) from None
