"""Cluster scenarios: YAML files of nodes, running pods and arriving pods, loaded into plain Kubernetes JSON.

A scenario (`sim/scenarios/*.yaml`) names its nodes (hardware generation and overrides, labels, taints,
allocatable, counters), the pods already running (noisy neighbours, some annotated `ai-scheduler.io/noisy`, some
hidden), the pods arriving for `ai-llama-scheduler` in order, and a seed. A `generator:` entry adds what a function
of `sim.generators` makes from the seed, for clusters too big to list. Top-level keys:

    name, description, seed, family, start (RFC 3339), hardware (the nodes' default, as a node's `hardware`),
    scheduler (the arrivals' schedulerName), nodes, pods, arrivals, generator: {name, params}

Nodes: `name` (with `count: N`, the names `name-1`..`name-N`), `hardware` (a generation or
`{generation, cores, l3_mb, mem_bw_gbps, core_bw_gbps, core_speed, memory_gib}`), `counters` (`perf`, `cmt`, `mbm`,
`psi`, `cgroup`), `labels`, `annotations`, `taints` (`key`, `value`, `effect`), `allocatable`, `unschedulable`.
Pods and arrivals: `name` (with `count`), `namespace`, `image`, `command`, `args`, `requests`, `limits`, `labels`,
`annotations`, `profile` (sets `sim.ai-scheduler.io/profile`), `schedulerName`, `nodeSelector`, `tolerations`,
`affinity`, `priorityClassName`; pods need `node`; arrivals take `at` (seconds after `start`, default one after the
previous arrival) and `every` (seconds between replicas, default 1).

Bounds, so a short file cannot take minutes and gigabytes to load: at most `MAX_NODES` nodes and `MAX_PODS` pods
(running and arriving together), counts and generator parameters included; `start` no earlier than 1970-01-02 and
every arrival no later than 9999-12-31T23:59:59Z (the last time RFC 3339 writes); `at` and `every` finite.

`load(path)` returns a `Scenario`: Node and Pod dicts exactly as an API server would hold them (defaulted fields,
uids derived from the seed, RFC 3339 timestamps, an InternalIP per node in scenario order), each node's
`Hardware` and each pod's profile (the ground truth, hidden neighbours included). Invalid files raise
`ScenarioError` naming the file, the entry and the key; so does a file that is not UTF-8 or not one YAML
document, or one with YAML aliases (`cluster.userfiles`).
"""

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from cluster.userfiles import UserFileError, yaml_document
from sim import generators, manifests, workloads
from sim import hardware as hw
from sim.cluster_state import ClusterState
from sim.hardware import Hardware, HardwareError
from sim.pods import PROFILE_ANNOTATION, WorkloadError, workload

BUILTIN = Path(__file__).resolve().parent / "scenarios"
SCHEDULER = "ai-llama-scheduler"
DEFAULT_START = "2026-01-05T09:00:00Z"
HELD_OUT_FAMILIES = ("cpu-antagonists", "near-full", "replica-burst", "counter-gaps")
"""Families of shipped scenarios that exist only to be reported on: no training data is drawn from them and no
parameter is tuned on them (`sim.generators.FAMILIES`, which training samples, must never name one)."""
MAX_NODES = 10_000
"""Nodes a scenario may hold: twice the benchmark's largest synthetic cluster (5,000 nodes); shipped ones have 100."""
MAX_PODS = 100_000
"""Pods a scenario may hold, running and arriving: twice the 50,000 running pods of that 5,000-node cluster."""
EARLIEST_START = datetime(1970, 1, 2, tzinfo=UTC).timestamp()
"""Nodes register a day before `start`; no cluster's clock reads a time before the Unix epoch."""
LATEST_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
"""The last second an RFC 3339 timestamp can name: no arrival may come later."""
_LIMITS = {"nodes": MAX_NODES, "pods": MAX_PODS}
_GENERATED = {"nodes": "nodes", "arrivals": "pods"}
"""Generator parameters that size what it makes (→ what they count), checked before it runs: it draws them all."""
_TOP = (
    "name",
    "description",
    "seed",
    "family",
    "start",
    "hardware",
    "scheduler",
    "nodes",
    "pods",
    "arrivals",
    "generator",
)
_NODE = ("name", "count", "hardware", "counters", "labels", "annotations", "taints", "allocatable", "unschedulable")
_POD = ("name", "count", "namespace", "image", "command", "args", "requests", "limits", "labels", "annotations",
        "profile", "schedulerName", "nodeSelector", "tolerations", "affinity", "priorityClassName")  # fmt: skip
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class ScenarioError(ValueError):
    """An invalid scenario; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class Arrival:
    at: float
    """Epoch seconds when the pod is created."""
    pod: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    family: str
    seed: int
    start: float
    nodes: tuple[dict[str, Any], ...]
    pods: tuple[dict[str, Any], ...]
    arrivals: tuple[Arrival, ...]
    hardware: Mapping[str, Hardware]
    profiles: Mapping[str, str]
    """`namespace/name` of every pod and arrival → its profile."""

    def state(self) -> ClusterState:
        """The cluster before the first arrival."""
        return ClusterState.from_objects(self.nodes, self.pods)

    @property
    def held_out(self) -> bool:
        """Whether the scenario's family is one that training and tuning never see."""
        return self.family in HELD_OUT_FAMILIES


def as_burst(scenario: Scenario) -> Scenario:
    """The scenario with every arrival created at its start, in the same order: `kubectl scale`, a deploy of
    many services at once, a node drain's evictions coming back; no telemetry is published in between."""
    stamp = manifests.rfc3339(scenario.start)
    arrivals = tuple(
        Arrival(
            at=scenario.start,
            pod={**a.pod, "metadata": {**a.pod["metadata"], "creationTimestamp": stamp}},
        )
        for a in scenario.arrivals
    )
    return replace(scenario, arrivals=arrivals)


def load(path: str | Path, *, seed_shift: int = 0) -> Scenario:
    """A scenario file; `path` may also name a built-in scenario (`seed-001` or `seed-001.yaml`). `seed_shift` is
    added to its seed: another draw of the same scenario (the benchmark's runs)."""
    file = Path(path)
    if not file.exists():
        file = next((f for f in (BUILTIN / f"{path}.yaml", BUILTIN / str(path)) if f.is_file()), file)
    if not file.exists():
        raise ScenarioError(
            f"{file}: no such file, nor a built-in scenario of that name (built in: {', '.join(builtin())})"
        )
    try:
        data = yaml_document(file, "a scenario")
    except UserFileError as exc:
        raise ScenarioError(str(exc)) from None
    return parse(data, source=str(file), seed_shift=seed_shift)


def builtin() -> tuple[str, ...]:
    """Names of the scenarios shipped in sim/scenarios."""
    return tuple(sorted(p.stem for p in BUILTIN.glob("*.yaml")))


def parse(data: Any, *, source: str = "<scenario>", seed_shift: int = 0) -> Scenario:
    """A scenario from its decoded YAML, its seed shifted by `seed_shift`."""
    check = _Checker(source)
    top = check.mapping(data, "", _TOP, required=("name", "seed"))
    name = check.string(top["name"], "name")
    seed = check.integer(top["seed"], "seed", low=0) + seed_shift  # numpy's generators take no negative seed
    start = check.time(top.get("start", DEFAULT_START), "start")
    default_hw = top.get("hardware", hw.DEFAULT_GENERATION)
    _hardware(check, default_hw, "hardware", {})  # checked here, so that a bad default is not blamed on nodes[0]
    scheduler = check.string(top.get("scheduler", SCHEDULER), "scheduler")
    nodes_in = check.sequence(top.get("nodes", []), "nodes")
    pods_in = check.sequence(top.get("pods", []), "pods")
    arrivals_in = check.sequence(top.get("arrivals", []), "arrivals")
    if "generator" in top:
        spec = check.mapping(top["generator"], "generator", ("name", "params"), required=("name",))
        made = _generate(check, spec, seed)
        nodes_in, pods_in = nodes_in + made["nodes"], pods_in + made["pods"]
        arrivals_in = arrivals_in + made["arrivals"]
    nodes, hardware = [], {}
    for index, entry in enumerate(nodes_in):
        path = f"nodes[{index}]"
        for node in _nodes(check, entry, path, default_hw=default_hw, start=start, seed=seed, held=len(nodes)):
            name_ = node["metadata"]["name"]
            if name_ in hardware:
                check.fail(f"{path}.name", f"duplicate node {name_!r}")
            hardware[name_] = hw.from_node(node)
            nodes.append(_addressed(node, len(nodes)))
    pods, profiles = [], {}
    for index, entry in enumerate(pods_in):
        path = f"pods[{index}]"
        item = check.mapping(entry, path, (*_POD, "node"), required=("name", "image", "node"))
        node = check.string(item["node"], f"{path}.node")
        if node not in hardware:
            check.fail(f"{path}.node", f"no node {node!r} in the scenario")
        pod_entry = {k: v for k, v in item.items() if k != "node"}
        made = _pods(check, pod_entry, path, seed=seed, created=start - 3600, node=node, held=len(pods))
        pods.extend(_register(check, pod, path, profiles) for pod in made)
    arrivals: list[Arrival] = []
    clock: float | None = None
    for index, entry in enumerate(arrivals_in):
        path = f"arrivals[{index}]"
        item = check.mapping(entry, path, (*_POD, "at", "every"), required=("name", "image"))
        first = check.number(item.get("at", 0.0 if clock is None else clock + 1.0), f"{path}.at")
        every = check.number(item.get("every", 1.0), f"{path}.every")
        pod_entry = {k: v for k, v in item.items() if k not in ("at", "every")}
        held = len(pods) + len(arrivals)
        made = _pods(check, pod_entry, path, seed=seed, created=start, scheduler=scheduler, node=None, held=held)
        for i, pod in enumerate(made):
            clock = first + i * every
            if start + clock > LATEST_TIME:
                late = f"pod {pod['metadata']['name']!r} would arrive {clock:g} s after the start"
                check.fail(
                    f"{path}.every" if i else f"{path}.at", f"{late}, later than {manifests.rfc3339(LATEST_TIME)}"
                )
            pod["metadata"]["creationTimestamp"] = manifests.rfc3339(start + clock)
            arrivals.append(Arrival(at=start + clock, pod=_register(check, pod, path, profiles)))
    arrivals.sort(key=lambda a: a.at)
    return Scenario(
        name=name,
        description=str(top.get("description", "")),
        family=check.string(top.get("family", name), "family"),
        seed=seed,
        start=start,
        nodes=tuple(nodes),
        pods=tuple(pods),
        arrivals=tuple(arrivals),
        hardware=hardware,
        profiles=profiles,
    )


def _bound(what: str) -> str:
    return f"the {_LIMITS[what]} {what} a scenario may hold (sim.scenario.MAX_{what.upper()})"


def _addressed(node: dict[str, Any], index: int) -> dict[str, Any]:
    """The node with the InternalIP its kubelet would register (10.0.0.1 on), before its Hostname address."""
    n = index + 1
    internal = {"type": "InternalIP", "address": f"10.0.{n // 250}.{n % 250 + 1}"}
    others = [a for a in node["status"].get("addresses", []) if a.get("type") != "InternalIP"]
    return {**node, "status": {**node["status"], "addresses": [internal, *others]}}


def _generate(check: "_Checker", spec: Mapping[str, Any], seed: int) -> dict[str, list[Any]]:
    name = check.string(spec["name"], "generator.name")
    function: Callable[..., dict[str, list[Any]]] | None = generators.GENERATORS.get(name)
    if function is None:
        check.fail("generator.name", f"unknown generator {name!r}; known: {', '.join(sorted(generators.GENERATORS))}")
    params = check.mapping(spec.get("params", {}), "generator.params", None)
    for key, what in _GENERATED.items():
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > _LIMITS[what]:
            check.fail(f"generator.params.{key}", f"{value!r} is more than {_bound(what)}")
    try:
        return function(np.random.default_rng(seed), **params)
    except (TypeError, ValueError) as exc:
        check.fail("generator.params", str(exc))


def _hardware(check: "_Checker", raw: Any, path: str, counters: Mapping[str, Any]) -> Hardware:
    """A node's `hardware` (a generation's name, or a mapping of one and its overrides) with its `counters`."""
    raw = {"generation": raw} if isinstance(raw, str) else check.mapping(raw, path, None)
    try:
        return hw.build(
            raw.get("generation", hw.DEFAULT_GENERATION),
            counters=counters or None,
            **{k: v for k, v in raw.items() if k != "generation"},
        )
    except HardwareError as exc:
        check.fail(path, str(exc))


def _register(check: "_Checker", pod: dict[str, Any], path: str, profiles: dict[str, str]) -> dict[str, Any]:
    key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    if key in profiles:
        check.fail(f"{path}.name", f"duplicate pod {key!r}")
    try:
        profiles[key] = workload(pod).profile.name
    except (WorkloadError, ValueError) as exc:
        check.fail(path, str(exc))
    return pod


def _nodes(
    check: "_Checker", entry: Any, path: str, *, default_hw: Any, start: float, seed: int, held: int
) -> list[dict[str, Any]]:
    item = check.mapping(entry, path, _NODE, required=("name",))
    base = check.string(item["name"], f"{path}.name")
    count = check.count(item.get("count", 1), f"{path}.count", held=held, what="nodes")
    counters = check.mapping(item.get("counters", {}), f"{path}.counters", None)
    spec = _hardware(check, item.get("hardware", default_hw), f"{path}.hardware", counters)
    taints = []
    for i, raw_taint in enumerate(check.sequence(item.get("taints", []), f"{path}.taints")):
        taint = check.mapping(raw_taint, f"{path}.taints[{i}]", ("key", "value", "effect"), required=("key", "effect"))
        if taint["effect"] not in _EFFECTS:
            check.fail(f"{path}.taints[{i}].effect", f"must be one of {', '.join(_EFFECTS)}, got {taint['effect']!r}")
        taints.append(taint)
    allocatable = {
        str(key): str(check.quantity(value, f"{path}.allocatable.{key}"))
        for key, value in check.mapping(item.get("allocatable", {}), f"{path}.allocatable", None).items()
    }
    return [
        manifests.node(
            base if count == 1 else f"{base}-{i + 1}",
            spec,
            seed=seed,
            created=start - 86400,
            labels=check.strings(item.get("labels", {}), f"{path}.labels"),
            annotations=check.strings(item.get("annotations", {}), f"{path}.annotations"),
            taints=taints,
            allocatable=allocatable,
            unschedulable=bool(item.get("unschedulable", False)),
        )
        for i in range(count)
    ]


def _pods(
    check: "_Checker",
    item: Mapping[str, Any],
    path: str,
    *,
    seed: int,
    created: float,
    scheduler: str = "default-scheduler",
    node: str | None,
    held: int,
) -> list[dict[str, Any]]:
    base = check.string(item["name"], f"{path}.name")
    count = check.count(item.get("count", 1), f"{path}.count", held=held, what="pods")
    resources = {}
    for kind in ("requests", "limits"):
        values = check.mapping(item.get(kind, {}), f"{path}.{kind}", None)
        resources[kind] = {str(k): str(check.quantity(v, f"{path}.{kind}.{k}")) for k, v in values.items()}
    annotations = check.strings(item.get("annotations", {}), f"{path}.annotations")
    if "profile" in item:
        profile = check.string(item["profile"], f"{path}.profile")
        if profile not in workloads.PROFILES:
            known = ", ".join(sorted(workloads.PROFILES))
            check.fail(f"{path}.profile", f"unknown profile {profile!r}; known: {known}")
        annotations[PROFILE_ANNOTATION] = profile
    extra: dict[str, Any] = {}
    if "nodeSelector" in item:
        extra["nodeSelector"] = check.strings(item["nodeSelector"], f"{path}.nodeSelector")
    if "tolerations" in item:
        tolerations = check.sequence(item["tolerations"], f"{path}.tolerations")
        extra["tolerations"] = [check.mapping(t, f"{path}.tolerations[{i}]", None) for i, t in enumerate(tolerations)]
    if "affinity" in item:
        extra["affinity"] = check.mapping(item["affinity"], f"{path}.affinity", None)
    if "priorityClassName" in item:
        extra["priorityClassName"] = check.string(item["priorityClassName"], f"{path}.priorityClassName")
    try:
        return [
            manifests.pod(
                base if count == 1 else f"{base}-{i + 1}",
                check.string(item["image"], f"{path}.image"),
                namespace=check.string(item.get("namespace", "default"), f"{path}.namespace"),
                seed=seed,
                created=created,
                command=[str(v) for v in check.sequence(item.get("command", []), f"{path}.command")],
                args=[str(v) for v in check.sequence(item.get("args", []), f"{path}.args")],
                requests=resources["requests"],
                limits=resources["limits"],
                labels=check.strings(item.get("labels", {}), f"{path}.labels"),
                annotations=annotations,
                scheduler=check.string(item.get("schedulerName", scheduler), f"{path}.schedulerName"),
                node=node,
                extra=extra,
            )
            for i in range(count)
        ]
    except (WorkloadError, ValueError) as exc:
        check.fail(path, str(exc))


class _Checker:
    """Type checks that raise ScenarioError naming the source file and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> NoReturn:
        raise ScenarioError(f"{self.source}: {path or 'top level'}: {message}")

    def mapping(
        self, value: Any, path: str, allowed: tuple[str, ...] | None, required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping, got {type(value).__name__}")
        for key in value:
            if allowed is not None and key not in allowed:
                self.fail(f"{path}.{key}" if path else str(key), f"unknown key; allowed: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.fail(f"{path}.{key}" if path else key, "required key is missing")
        return dict(value)

    def sequence(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {type(value).__name__}")
        return list(value)

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(path, f"must be a non-empty string, got {value!r}")
        return value

    def strings(self, value: Any, path: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.mapping(value, path, None).items()}

    def integer(self, value: Any, path: str, low: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
            self.fail(path, f"must be an integer{f' of at least {low}' if low is not None else ''}, got {value!r}")
        return value

    def count(self, value: Any, path: str, *, held: int, what: str) -> int:
        """Replicas of an entry, refused where they take the scenario past its bound on `what` (nodes, pods)."""
        count = self.integer(value, path, low=1)
        if held + count > _LIMITS[what]:
            self.fail(path, f"{count} more {what} would make {held + count}, more than {_bound(what)}")
        return count

    def number(self, value: Any, path: str) -> float:
        """A finite non-negative number: NaN, infinity or an integer too long for a float has no time to stand for."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= sys.float_info.max:
            self.fail(path, f"must be a finite non-negative number, got {value!r}")
        return float(value)

    def quantity(self, value: Any, path: str) -> Any:
        try:
            hw.quantity(value)
        except ValueError:
            self.fail(path, f"is not a Kubernetes quantity: {value!r}")
        return value

    def time(self, value: Any, path: str) -> float:
        """Epoch seconds of an RFC 3339 time (UTC when it names no zone) from EARLIEST_START to LATEST_TIME."""
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(path, f"must be an RFC 3339 time such as {DEFAULT_START}, got {value!r}")
        epoch = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        if not EARLIEST_START <= epoch <= LATEST_TIME:
            earliest, latest = manifests.rfc3339(EARLIEST_START), manifests.rfc3339(LATEST_TIME)
            self.fail(path, f"must be from {earliest} to {latest}, got {value!r}")
        return epoch
