"""The model against the KubeMarla measurements: the measured table, the same experiments in the model, side by side.

Measured (`measured`): for every antagonist mix (counts of CPU, L3 and memBW antagonists), the quartiles of nginx's
P99 and P50 slowdown over the mix's load tests, and the medians of the PCM counters mapped onto NodeState as the
data README says (`cpi` = 1/IPC, `llc_miss_rate` = L3 misses / L2 misses, `memory_bandwidth_gbps` = (read + write)
/ interval, `cpu_utilization` = C0 residency). Single-kind mixes use the CSV's own `p99_slowdown` (against the same
campaign's baselines at the same replicas and RPS). Mixes were run in campaigns without baselines; their slowdown is
against the median baseline of the other campaigns at the same replicas and RPS (baselines agree across campaigns
within about 10 %, and this reference reproduces the single-kind quartiles to 0.1x). Mixes come from the `Memento`
campaigns only, the protocol of the single-kind runs; `contradictions` lists where the other campaigns disagree.

Modelled (`modelled`): nginx (500m/512Mi, image nginx) on the NUC node preset with the same antagonists as pods:
iBench CPU (`./cpu`), iBench L3 (`./l3`) and iBench memBW (`./memBw`, with the thesis manifests' 250m CPU limit),
through the same code path the simulator uses for any Pod JSON.

Used by tests/sim/test_calibration.py; `python -m sim.calibration` prints the table. No network; reads the CSV only.
"""

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim import counters, hardware, interference, manifests, oracle
from sim.cluster_state import ClusterState

DATA = Path(__file__).resolve().parents[1] / "data" / "interference-measurements.csv"
SAME_PROTOCOL = ("Fight_Club", "Memento")
"""Campaign name prefixes whose single-kind and mixed runs share one protocol."""
TELEMETRY = ("cpu_utilization", "cpi", "llc_miss_rate", "memory_bandwidth_gbps")
HELD_OUT_CAMPAIGNS = (
    "Fight_Club_V02",
    "Memento_V03",
    "Memento_V04",
    "Memento_V01_mix_scenarios",
    "Rear_Window_V01",
    "Memento_V02_3_MixedScenarios_Remains",
)
"""Single-kind campaigns and mixes from both protocols, kept out of everything the learned scorer learns from (its
fine-tuning, and `interference.TRAINING_CALIBRATION`, the simulator its training clusters are labelled with): its
held-out real-counter pairs come from them."""


@dataclass(frozen=True, order=True)
class Mix:
    """Antagonist counts in one experiment."""

    cpu: int
    l3: int
    membw: int

    @property
    def label(self) -> str:
        parts = [f"{n} {kind}" for n, kind in ((self.cpu, "CPU"), (self.l3, "L3"), (self.membw, "memBW")) if n]
        return " + ".join(parts) or "baseline"

    @property
    def single_kind(self) -> bool:
        return sum(1 for n in (self.cpu, self.l3, self.membw) if n) == 1


@dataclass(frozen=True)
class Quartiles:
    q25: float
    median: float
    q75: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Quartiles":
        q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
        return cls(float(q25), float(median), float(q75))

    def contains(self, value: float) -> bool:
        return self.q25 <= value <= self.q75


@dataclass(frozen=True)
class Measured:
    mix: Mix
    runs: int
    p99: Quartiles
    p90: Quartiles
    p50: Quartiles
    telemetry: Mapping[str, float]


@dataclass(frozen=True)
class Modelled:
    mix: Mix
    p50: float
    p90: float
    p95: float
    p99: float
    """Predicted slowdowns (percentile over the same percentile alone)."""
    telemetry: Mapping[str, float]
    """Window means of the NodeState metrics."""


Row = dict[str, str]


def load(path: Path = DATA) -> list[Row]:
    """The CSV's rows; FileNotFoundError when absent."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def not_held_out(rows: Iterable[Row]) -> list[Row]:
    """The rows of the campaigns a learned scorer may learn from (every campaign but `HELD_OUT_CAMPAIGNS`)."""
    return [row for row in rows if row["campaign"] not in HELD_OUT_CAMPAIGNS]


def mix_of(row: Row) -> Mix:
    return Mix(int(row["cpu_antagonists"]), int(row["l3_antagonists"]), int(row["membw_antagonists"]))


def _in(row: Row, families: Sequence[str]) -> bool:
    return row["campaign"].startswith(tuple(families))


def _telemetry(row: Row) -> dict[str, float]:
    if not row["ipc_mean"]:
        return {}
    interval = float(row["sample_interval_s"] or 5.0)
    return {
        "cpu_utilization": float(row["c0res_pct_mean"]) / 100.0,
        "cpi": 1.0 / float(row["ipc_mean"]),
        "llc_miss_rate": min(1.0, float(row["l3miss_m_mean"]) / float(row["l2miss_m_mean"])),
        "memory_bandwidth_gbps": (float(row["read_gb_mean"]) + float(row["write_gb_mean"])) / interval,
    }


def measured(rows: Iterable[Row], *, families: Sequence[str] = SAME_PROTOCOL) -> dict[Mix, Measured]:
    """Quartiles of the measured slowdowns and counter medians per mix, from campaigns of `families`."""
    rows = list(rows)
    reference: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in rows:
        if mix_of(row) == Mix(0, 0, 0):
            for column in ("p99_ms", "p90_ms", "p50_ms"):
                reference[(column, row["replicas"], row["rps"])].append(float(row[column]))
    slowdowns: dict[Mix, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        mix = mix_of(row)
        if not _in(row, families):
            continue
        for column, name in (("p99_ms", "p99"), ("p90_ms", "p90"), ("p50_ms", "p50")):
            if name == "p99" and row["p99_slowdown"]:
                slowdowns[mix][name].append(float(row["p99_slowdown"]))
                continue
            base = reference.get((column, row["replicas"], row["rps"]))
            if base:
                slowdowns[mix][name].append(float(row[column]) / statistics.median(base))
        for metric, value in _telemetry(row).items():
            slowdowns[mix][metric].append(value)
    return {
        mix: Measured(
            mix=mix,
            runs=len(values["p99"]),
            p99=Quartiles.of(values["p99"]),
            p90=Quartiles.of(values["p90"]),
            p50=Quartiles.of(values["p50"]),
            telemetry={m: statistics.median(values[m]) for m in TELEMETRY if values[m]},
        )
        for mix, values in sorted(slowdowns.items())
        if values["p99"]
    }


def contradictions(rows: Iterable[Row]) -> dict[Mix, tuple[Quartiles, Quartiles]]:
    """Mixes whose slowdown in the other campaigns lies wholly below the same-protocol P99 of a subset of the mix.

    Adding antagonists cannot make a pod faster, so no monotone model fits these runs and the same-protocol ones.
    """
    rows = list(rows)
    same, other = measured(rows), measured(rows, families=("Green_Book", "Rear_Window"))
    found = {}
    for mix, result in other.items():
        for subset, base in same.items():
            below = subset.cpu <= mix.cpu and subset.l3 <= mix.l3 and subset.membw <= mix.membw
            if below and subset != mix and result.p99.q75 < base.p99.q25:
                found[mix] = (result.p99, base.p99)
    return found


def nuc_cluster(mix: Mix, *, instrumented: bool = False) -> ClusterState:
    """KubeMarla's rig in the model: the NUC node, nginx, and the mix's antagonists as iBench pods.

    `instrumented` gives the node memory-bandwidth and occupancy counters: the NUC has no resctrl, but PCM read its
    memory controller directly, and that is what the measured bandwidth is.
    """
    counters_on = {"cmt": True, "mbm": True} if instrumented else None
    node = manifests.node("minikube", hardware.build("nuc-coffee-lake", counters=counters_on))
    quota = {"cpu": "500m", "memory": "512Mi"}
    pods = [manifests.pod("nginx", "nginx:1.21-alpine", requests=quota, limits=quota, node="minikube")]
    for kind, count, command in (("cpu", mix.cpu, "./cpu"), ("l3", mix.l3, "./l3"), ("membw", mix.membw, "./memBw")):
        for i in range(count):
            small = {"cpu": "250m", "memory": "256Mi"}
            limits = small if kind == "membw" else None
            name = f"ibench-{kind}-{i}"
            pods.append(
                manifests.pod(
                    name, "ibench:latest", command=[command, "180"], requests=small, limits=limits, node="minikube"
                )
            )
    return ClusterState.from_objects([node], pods)


def modelled(
    mix: Mix,
    *,
    rng: np.random.Generator | None = None,
    calibration: interference.Calibration = interference.CALIBRATION,
) -> Modelled:
    """The model's nginx slowdowns for `mix` and, when a generator is given, the node's telemetry means."""
    state = nuc_cluster(mix)
    prediction = oracle.predict(state, state.pod("default/nginx"), ("minikube",), calibration=calibration)["minikube"]
    alone = oracle.predict(nuc_cluster(Mix(0, 0, 0)), state.pod("default/nginx"), ("minikube",))["minikube"]
    telemetry: dict[str, float] = {}
    if rng is not None:
        state_json = counters.states_of(nuc_cluster(mix, instrumented=True), now=0.0, rng=rng)["minikube"]
        telemetry = {m: state_json["metrics"][m]["mean"] for m in TELEMETRY if m in state_json["metrics"]}
    return Modelled(
        mix=mix,
        p50=prediction.p50_ms / alone.p50_ms,
        p90=prediction.p90_ms / alone.p90_ms,
        p95=prediction.p95_ms / alone.p95_ms,
        p99=prediction.slowdown,
        telemetry=telemetry,
    )


def agreement(variant: interference.Variant, mixes: Mapping[Mix, Measured] | None = None) -> tuple[int, int]:
    """How many of the measured mixes' P99 interquartile ranges the `variant`'s nginx slowdown falls in, of how
    many: how far the real measurements allow that world (the calibrated model meets all 21). `mixes`: the
    measurements as `measured` reads them (default: the shipped CSV), so several variants read it once."""
    mixes = measured(load(DATA)) if mixes is None else mixes
    inside = 0
    for mix, result in mixes.items():
        state = nuc_cluster(mix)
        slowdown = oracle.predict(state, state.pod("default/nginx"), ("minikube",), variant=variant)["minikube"]
        inside += result.p99.contains(slowdown.slowdown)
    return inside, len(mixes)


def report(path: Path = DATA) -> str:
    """The calibration table as text."""
    lines = [
        f"{'mix':<24}{'runs':>5}  {'P99 IQR measured':>17}  {'model':>5}     {'P50 IQR measured':>16}  {'model':>5}"
    ]
    for mix, result in measured(load(path)).items():
        model = modelled(mix)
        inside = "ok" if result.p99.contains(model.p99) else "OUT"
        p99 = f"{result.p99.q25:>8.2f}-{result.p99.q75:<8.2f}  {model.p99:>5.2f} {inside:<3}"
        p50 = f"{result.p50.q25:>8.2f}-{result.p50.q75:<7.2f}  {model.p50:>5.2f}"
        lines.append(f"{mix.label:<24}{result.runs:>5}  {p99}  {p50}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
