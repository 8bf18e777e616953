"""The fresh-placement estimate's counter table (`cluster.estimate.NOISY_ADDS`): fitted on the simulator, checked on
the KubeMarla measurements.

Fit: for each declared noisy kind (cpu, llc, membw, io), a node of every hardware preset but the NUC runs a
latency-critical nginx (500m) beside 0..4 pods of that kind (`ai-scheduler.io/noisy: <kind>`, workload class batch,
1 CPU requested: what a scenario's antagonist declares); `sim.counters` publishes the node's NodeState for each count
under `SEEDS` seeds. The table's entry for a counter is the least-squares slope through the origin of (mean counter
with k pods - mean with none) against k, averaged over the presets: what one more declared pod of that kind adds.

Check: the same slope on the KubeMarla rig's measured counters (`sim.calibration.measured`: the baseline and 1..4
antagonists of one kind, medians per mix, `memory_bandwidth_gbps` over the NUC's practical peak for the ratio) beside
the slope of the simulator's model of that rig (`sim.calibration.modelled`: the thesis's iBench pods on the NUC
preset, seeded). `python -m training.estimate_fit` prints both; the table in
`cluster/estimate.py` is this output, rounded.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from cluster.estimate import NOISY_METRICS
from cluster.needs import DIMENSIONS
from scoring.pressure import NOMINAL_PEAK_GBPS
from sim import calibration, counters, hardware, manifests, workloads
from sim.cluster_state import ClusterState
from sim.dataset import EVAL_PROFILES
from sim.pods import PROFILE_ANNOTATION

SEEDS = (11, 12, 13)
COUNTS = (0, 1, 2, 3, 4)
PRESETS = ("haswell-ep", "skylake-sp", "cascade-lake", "ice-lake-sp", "sapphire-rapids")
_NUC_KIND = {"cpu": "cpu", "llc": "l3", "membw": "membw"}
_CHECKED = ("cpi", "llc_miss_rate", "memory_bandwidth_ratio")
"""The counters both the measurements and the table hold (the NUC has no resctrl occupancy or PSI)."""


def _state(preset: str, kind: str, count: int) -> ClusterState:
    """A node of `preset` with nginx and `count` declared-noisy pods of `kind`, every counter source on."""
    counters_on = {"cmt": True, "mbm": True, "perf": True, "psi": True, "cgroup": True}
    node = manifests.node("n", hardware.build(preset, counters=counters_on))
    quota = {"cpu": "500m", "memory": "512Mi"}
    pods = [manifests.pod("nginx", "nginx:1.21-alpine", requests=quota, limits=quota, node="n")]
    annotations = {"ai-scheduler.io/noisy": kind, "ai-scheduler.io/workload-class": "batch"}
    for i in range(count):
        pods.append(
            manifests.pod(
                f"noisy-{i}", "app:1", requests={"cpu": "1", "memory": "256Mi"}, annotations=annotations, node="n"
            )
        )
    return ClusterState.from_objects([node], pods)


STRESSORS = ("ibench-cpu", "stress-cache", "stress-membw", "stress-io")
"""Antagonists by construction: a pod declares them noisy (`NOISY_ADDS`), they are no class's typical pod."""
CLASSES = ("latency-critical", "throughput", "batch", "best-effort")


def class_profiles(workload_class: str) -> tuple[str, ...]:
    """The training profiles of a workload class: never an evaluation profile, never a stressor."""
    return tuple(
        name
        for name, p in workloads.PROFILES.items()
        if p.workload_class == workload_class
        and name not in EVAL_PROFILES
        and name not in STRESSORS
        and name != "system"
    )


def _class_state(preset: str, workload_class: str, profile: str, count: int) -> ClusterState:
    """A node of `preset` with nginx and `count` undeclared pods of `profile`, each requesting the profile's
    reference CPU."""
    counters_on = {"cmt": True, "mbm": True, "perf": True, "psi": True, "cgroup": True}
    node = manifests.node("n", hardware.build(preset, counters=counters_on))
    quota = {"cpu": "500m", "memory": "512Mi"}
    pods = [manifests.pod("nginx", "nginx:1.21-alpine", requests=quota, limits=quota, node="n")]
    cpu = f"{round(workloads.PROFILES[profile].reference_cpu * 1000)}m"
    annotations = {PROFILE_ANNOTATION: profile, "ai-scheduler.io/workload-class": workload_class}
    for i in range(count):
        pods.append(
            manifests.pod(
                f"{profile}-{i}", "app:1", requests={"cpu": cpu, "memory": "1Gi"}, annotations=annotations, node="n"
            )
        )
    return ClusterState.from_objects([node], pods)


def fit_classes(presets: Sequence[str] = PRESETS) -> dict[str, dict[str, float]]:
    """Per workload class and counter: what one more undeclared pod of the class adds per requested core,
    averaged over the class's training profiles (each at its reference request) and `presets`."""
    table: dict[str, dict[str, float]] = {}
    for workload_class in CLASSES:
        per = []
        for profile in class_profiles(workload_class):
            cores = workloads.PROFILES[profile].reference_cpu
            for preset in presets:
                runs = [_means(_class_state(preset, workload_class, profile, k)) for k in COUNTS]
                per.append({m: slope(COUNTS, [r[m] for r in runs]) / cores for m in runs[0]})
        table[workload_class] = {m: float(np.mean([p[m] for p in per])) for m in NOISY_METRICS}
    return table


def _means(state: ClusterState) -> dict[str, float]:
    """The node's counter means over `SEEDS` publications."""
    runs = [counters.states_of(state, now=0.0, rng=np.random.default_rng(seed))["n"]["metrics"] for seed in SEEDS]
    return {m: float(np.mean([run[m]["mean"] for run in runs])) for m in NOISY_METRICS if m in runs[0]}


def slope(counts: Sequence[int], values: Sequence[float]) -> float:
    """Least-squares slope through the origin of (value - value at count 0) against count."""
    x = np.asarray(counts, dtype=float)
    y = np.asarray(values, dtype=float) - values[0]
    return float((x * y).sum() / (x * x).sum())


def fit(presets: Sequence[str] = PRESETS) -> dict[str, dict[str, float]]:
    """Per noisy kind and counter: what one more declared pod of that kind adds, averaged over `presets`."""
    table: dict[str, dict[str, float]] = {}
    for kind in DIMENSIONS:
        per_preset = []
        for preset in presets:
            runs = [_means(_state(preset, kind.value, k)) for k in COUNTS]
            per_preset.append({m: slope(COUNTS, [r[m] for r in runs]) for m in runs[0]})
        table[kind.value] = {m: float(np.mean([p[m] for p in per_preset])) for m in NOISY_METRICS}
    return table


def rig_slopes() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Per antagonist kind of the KubeMarla campaigns: the slope of the counters over 0..4 antagonists, as the
    simulator's NUC rig publishes them (`calibration.modelled`, seeded) and as measured (medians per mix)."""
    mixes = calibration.measured(calibration.load())
    simulated: dict[str, dict[str, float]] = {}
    measured: dict[str, dict[str, float]] = {}
    for kind, field in _NUC_KIND.items():
        counts = [k for k in COUNTS if _only(k, field) in mixes]
        real = [mixes[_only(k, field)].telemetry for k in counts]
        model = [calibration.modelled(_only(k, field), rng=np.random.default_rng(SEEDS[0])).telemetry for k in counts]
        simulated[kind] = {m: slope(counts, [_ratio(t, m) for t in model]) for m in _CHECKED}
        measured[kind] = {m: slope(counts, [_ratio(t, m) for t in real]) for m in _CHECKED}
    return simulated, measured


def _only(count: int, field: str) -> calibration.Mix:
    """The mix of `count` antagonists of one kind (`field` of `Mix`) and none of the others."""
    return calibration.Mix(**{"cpu": 0, "l3": 0, "membw": 0, field: count})


def _ratio(telemetry: Mapping[str, float], metric: str) -> float:
    if metric == "memory_bandwidth_ratio":
        return telemetry.get("memory_bandwidth_gbps", float("nan")) / NOMINAL_PEAK_GBPS
    return telemetry.get(metric, float("nan"))


def report() -> str:
    """The fitted table, then the simulator's NUC slopes beside the measured ones."""
    lines = [f"{'kind':<6}" + "".join(f"{m:>24}" for m in NOISY_METRICS)]
    for kind, row in fit().items():
        lines.append(f"{kind:<6}" + "".join(f"{row[m]:>24.4f}" for m in NOISY_METRICS))
    lines.append("")
    lines.append("undeclared pods, per requested core, by workload class")
    for workload_class, row in fit_classes().items():
        lines.append(f"{workload_class:<16}" + "".join(f"{row[m]:>24.4f}" for m in NOISY_METRICS))
    lines.append("")
    lines.append("KubeMarla rig, one more antagonist: simulated / measured")
    simulated, measured = rig_slopes()
    for kind, row in measured.items():
        cells = "".join(f"  {m} {simulated[kind][m]:+.4f} / {v:+.4f}" for m, v in row.items())
        lines.append(f"{kind:<6}{cells}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
