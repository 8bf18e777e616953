"""Workload profiles: what a pod uses of a node's shared resources, how much interference hurts it, how fast it is.

A profile is the simulator's ground truth about a kind of pod, in the spirit of Paragon/Quasar (Delimitrou &
Kozyrakis, ASPLOS 2013/2014): each workload *causes* pressure on shared resources (CPU issue slots, last-level cache
capacity, memory bandwidth, the IO device) and *tolerates* pressure with a sensitivity per resource. `sim.pods` picks
the profile of a pod from its JSON; `sim.interference` turns the profiles on a node into pressures, slowdowns and
latency distributions; `sim.counters` turns them into NodeState telemetry.

Units, per *unit* of the profile (one stressor worker, or the reference request `reference_cpu` of a service; a pod
is `scale` units, see `sim.pods`):
- `cpu`: cores busy. `intensity`: share of a core's execution resources its threads occupy while running (1 for an
  ALU spin loop; less for code that waits on memory), which weights its CPU pressure on others.
- `llc_mb`: cache footprint, MB, scaled by units; `llc_share`: footprint as a fraction of the node's L3, once per pod
  (stress-ng's cache stressor sizes one shared buffer to the L3, whatever its worker count).
- `stream`, `thrash`: DRAM traffic per busy core as a fraction of the node's `core_bw_gbps`, with a warm cache and
  extra at full loss of its cache share.
- `io`: share of the node's IO device. `memory_mib`: resident memory.
- `cpi`, `apki` (LLC references per kilo-instruction), `miss` (LLC miss rate alone), `miss_gain` (miss-rate rise at
  full loss of its cache share), `stall_gain` (relative CPI rise at full loss): perf-counter behaviour.
- `p50_ms`, `p99_ms`: request latency alone on an idle node with a reference core (speed 1.0); for throughput and
  batch profiles, the latency of one unit of work. `burst`: coefficient of variation of its per-second load.

Calibrated against the KubeMarla measurements (see `sim.interference`): `nginx`'s latency alone (the medians of its
baseline runs), the issue intensity of `stress-cache` and `stress-membw` and the latter's LLC pollution (fitted),
`stress-membw`'s streaming rate and `stress-cache`'s DRAM traffic (from the measured bandwidth per antagonist), and
the perf behaviour of all four (CPI and LLC miss rates against the mapped PCM counters). The other profiles follow
public characterisations (`ABOUT` says which) and are checked for plausibility only: the data hold no such pods.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

DIMENSIONS = ("cpu", "llc", "membw", "io")
CLASSES = ("latency-critical", "throughput", "batch", "best-effort")


@dataclass(frozen=True)
class Sensitivity:
    """How strongly each pressure slows the workload (1.0 = the calibrated nginx)."""

    cpu: float = 0.0
    llc: float = 0.0
    membw: float = 0.0
    io: float = 0.0

    def of(self, dimension: str) -> float:
        return float(getattr(self, dimension))


@dataclass(frozen=True)
class Profile:
    """One kind of workload; see the module docstring for units."""

    name: str
    workload_class: str
    noisy: tuple[str, ...]
    cpu: float
    intensity: float
    llc_mb: float
    llc_share: float
    stream: float
    thrash: float
    io: float
    memory_mib: float
    cpi: float
    apki: float
    miss: float
    miss_gain: float
    stall_gain: float
    sensitivity: Sensitivity
    p50_ms: float
    p99_ms: float
    p99_target_ms: float | None
    reference_cpu: float
    burst: float
    images: tuple[str, ...] = ()
    stressors: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    @property
    def latency_critical(self) -> bool:
        return self.workload_class == "latency-critical"


# What each profile uses, per unit (see the module docstring): class lc/tp/batch/be, `noisy` dimensions ("-" for none),
# cpu cores, issue intensity, footprint MB, footprint as L3 fraction, stream and thrash DRAM traffic per busy core as
# fractions of a core's streaming bandwidth, IO device share, resident MiB, per-second load CV, reference request cores.
_RESOURCES = """
name            class noisy      cpu  int llc_mb  l3 stream thrash   io mem_mib burst ref
nginx           lc    -          0.3  0.6    1.5   0   0.05    0.1    0      64   0.2 0.5
redis           lc    -          0.5  0.7      6   0   0.05    0.3    0    1024   0.2 0.5
http-echo       lc    -         0.15  0.8    0.5   0   0.02    0.1    0      32   0.2 0.1
memcached       lc    -          0.6  0.6      8   0   0.06   0.35    0    2048  0.25   1
web-backend     tp    -          0.8  0.7      4   0    0.1    0.3    0    1024   0.3   1
postgres        tp    io         1.2  0.6     10   0    0.1    0.4 0.25    4096  0.25   2
kafka-broker    tp    io         0.6  0.5      4   0    0.3    0.2  0.3    4096   0.3   1
batch-compute   batch cpu          2    1      2   0    0.1    0.1    0    1024  0.05   2
batch-analytics batch llc,membw    4  0.6      4 0.3    0.5    0.3 0.15    8192  0.15   4
ml-training     batch membw,cpu    4  0.9     12   0    0.4    0.3    0    8192  0.05   4
ibench-cpu      be    cpu          1    1    0.1   0      0      0    0      64  0.02   1
stress-cache    be    llc          1 0.51      0   1   0.05   0.36    0     128  0.03   1
stress-membw    be    membw        1    1      0 0.28      1      0    0     512  0.03   1
stress-io       be    io         0.3  0.3    0.5   0    0.2      0  0.6     256   0.1   1
best-effort     be    -         0.02  0.3    0.1   0   0.01      0    0      32   0.5 0.1
system          be    -          0.1  0.5      1   0    0.1      0    0    1024   0.3 0.1
"""

# How it behaves: CPI, LLC references per kilo-instruction, miss rate, their rise at full loss of its cache share,
# sensitivities (cpu, llc, membw, io), P50/P99 alone on a reference core (ms), typical P99 target (ms, "-" for none).
_BEHAVIOUR = """
name             cpi apki miss m_gain s_gain s_cpu s_llc s_bw s_io   p50  p99 target
nginx            1.1    6 0.05    0.3    0.6     1     1    1 0.05 0.087 0.17      1
redis            1.3   15  0.1    0.3    0.6     1   1.4  1.3 0.05   0.2 0.55      1
http-echo        0.9    3 0.03    0.3    0.6   1.3   0.4  0.3 0.02  0.45  1.6      5
memcached        1.4   18 0.12    0.3    0.6   0.9   1.3  1.2    0  0.12  0.4    0.5
web-backend      1.5   10 0.15    0.3    0.6   0.6   0.6  0.5  0.2     5   25    100
postgres         1.6   14  0.2    0.3    0.6   0.5   0.8  0.6    1     2   12     50
kafka-broker     1.2    9 0.25    0.3    0.6   0.4   0.4  0.5  0.8     3   20    100
batch-compute    0.7    4  0.1    0.3    0.6   0.3   0.3  0.2    0    50   80      -
batch-analytics  1.8   25 0.45    0.3    0.6   0.3   0.4  0.5  0.3   200  400      -
ml-training      0.9   12 0.35    0.3    0.6   0.3   0.3  0.4  0.1   120  180      -
ibench-cpu       0.6 0.02 0.02    0.3    0.6   0.2     0    0    0     1  1.2      -
stress-cache    0.35   40 0.05    0.3    2.4   0.1   0.3  0.2    0     1  1.3      -
stress-membw     0.6   30 0.06    0.1    0.2   0.1   0.1  0.3    0     1  1.3      -
stress-io        1.5    8  0.2    0.3    0.6   0.1     0    0  0.3     1    3      -
best-effort      1.8    5 0.05    0.3    0.6   0.2   0.1  0.1  0.1    10   30      -
system           1.6   10 0.05    0.3    0.6     0     0    0    0     1  1.2      -
"""

IMAGES: Mapping[str, tuple[str, ...]] = {
    "nginx": ("nginx", "nginx-unprivileged", "openresty"),
    "redis": ("redis", "redis-stack-server", "valkey", "keydb"),
    "http-echo": ("http-echo", "echo-server", "echoserver", "go-httpbin"),
    "memcached": ("memcached",),
    "web-backend": ("tomcat", "jetty", "node", "python", "gunicorn", "httpd", "wordpress", "php"),
    "postgres": ("postgres", "postgresql", "mysql", "mariadb"),
    "kafka-broker": ("kafka", "cp-kafka", "redpanda"),
    "batch-compute": ("ffmpeg", "x264", "blender", "pi", "perl"),
    "batch-analytics": ("spark", "spark-py", "flink", "trino", "presto"),
    "ml-training": ("pytorch", "tensorflow", "jax"),
    "stress-io": ("fio",),
    "best-effort": ("pause", "busybox", "alpine", "ubuntu", "debian", "curl", "sleep"),
}
STRESSORS: Mapping[str, tuple[str, ...]] = {
    "ibench-cpu": ("--cpu", "./cpu"),
    "stress-cache": ("--cache", "--l3cache", "./l3"),
    "stress-membw": ("--stream", "--memrate", "--vm", "./memBw"),
    "stress-io": ("--hdd", "--iomix", "--io", "--aio"),
}
ABOUT: Mapping[str, str] = {
    "nginx": "KubeMarla's target (nginx 500m/512Mi); P50/P99 are the medians of its baseline runs",
    "redis": "single-threaded in-memory store; hash table and hot keys live in the LLC, so it is more cache- and "
    "bandwidth-sensitive than nginx (Heracles' memkeyval); redis-benchmark P99 about 0.5 ms on a quiet server",
    "http-echo": "a Go HTTP echo behind kube-proxy: CPU-bound, tiny working set, wakeup latency dominates its tail",
    "memcached": "multi-threaded key-value cache under mutilate-style load; held out for evaluation by default",
    "web-backend": "a JVM, Node or Python application server",
    "postgres": "OLTP database: buffer pool in the LLC, WAL and data writes on the node's disk",
    "kafka-broker": "log broker: page-cache copies move memory, appends hit the disk",
    "batch-compute": "transcoding or rendering: ALU-bound with a small working set",
    "batch-analytics": "Spark-style scans and shuffles: streams through memory and pollutes the LLC",
    "ml-training": "CPU training: dense kernels, large activations; held out for evaluation by default",
    "ibench-cpu": "iBench CPU / stress-ng --cpu: one spinning ALU loop per worker",
    "stress-cache": "stress-ng --cache / iBench l3: walks an L3-sized buffer, evicting everyone else",
    "stress-membw": "stress-ng --stream / iBench memBw: streams through DRAM at a core's full rate",
    "stress-io": "fio / stress-ng --hdd: keeps the node's disk busy",
    "best-effort": "mostly idle: sidecars, sleepers, debug shells",
    "system": "kubelet, container runtime and kube-proxy: on every node, part of every baseline",
}


_CLASS = {"lc": "latency-critical", "tp": "throughput", "batch": "batch", "be": "best-effort"}


def _table(text: str) -> dict[str, dict[str, str]]:
    header, *lines = (line.split() for line in text.strip().splitlines())
    return {line[0]: dict(zip(header, line, strict=True)) for line in lines}


def _profiles() -> dict[str, Profile]:
    behaviour = _table(_BEHAVIOUR)
    profiles = {}
    for name, use in _table(_RESOURCES).items():
        act = behaviour[name]
        profiles[name] = Profile(
            name=name,
            workload_class=_CLASS[use["class"]],
            noisy=() if use["noisy"] == "-" else tuple(use["noisy"].split(",")),
            cpu=float(use["cpu"]),
            intensity=float(use["int"]),
            llc_mb=float(use["llc_mb"]),
            llc_share=float(use["l3"]),
            stream=float(use["stream"]),
            thrash=float(use["thrash"]),
            io=float(use["io"]),
            memory_mib=float(use["mem_mib"]),
            cpi=float(act["cpi"]),
            apki=float(act["apki"]),
            miss=float(act["miss"]),
            miss_gain=float(act["m_gain"]),
            stall_gain=float(act["s_gain"]),
            sensitivity=Sensitivity(*(float(act[f"s_{d}"]) for d in ("cpu", "llc", "bw", "io"))),
            p50_ms=float(act["p50"]),
            p99_ms=float(act["p99"]),
            p99_target_ms=None if act["target"] == "-" else float(act["target"]),
            reference_cpu=float(use["ref"]),
            burst=float(use["burst"]),
            images=IMAGES.get(name, ()),
            stressors=STRESSORS.get(name, ()),
            description=ABOUT[name],
        )
    return profiles


_ALL = _profiles()
SYSTEM = _ALL.pop("system")
PROFILES: dict[str, Profile] = _ALL

STRESSOR_PROFILES: dict[str, str] = {flag: p.name for p in PROFILES.values() for flag in p.stressors}
IMAGE_PROFILES: dict[str, str] = {image: p.name for p in PROFILES.values() for image in p.images}
NOISY_PROFILES: Mapping[str, str] = {
    "membw": "stress-membw",
    "llc": "stress-cache",
    "cpu": "ibench-cpu",
    "io": "stress-io",
}
CLASS_PROFILES: Mapping[str, str] = {
    "latency-critical": "nginx",
    "throughput": "web-backend",
    "batch": "batch-compute",
    "best-effort": "best-effort",
}
