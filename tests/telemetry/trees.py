"""Builders of fake node trees (procfs, sysfs, cgroup v2, resctrl) for the agent's tests and benchmark.

Each setter writes files in the kernel's own format, so the agent reads them exactly as on a node.
"""

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class NodeTree:
    """A node's kernel files under `root`: proc/, sys/ (with sys/fs/cgroup and sys/fs/resctrl)."""

    root: Path
    cpus: int = 4

    def __post_init__(self) -> None:
        cpu_dir = self.sys / "devices/system/cpu"
        cpu_dir.mkdir(parents=True, exist_ok=True)
        (cpu_dir / "online").write_text(f"0-{self.cpus - 1}\n")
        (self.proc / "sys/kernel").mkdir(parents=True, exist_ok=True)
        (self.proc / "sys/kernel/perf_event_paranoid").write_text("2\n")
        (self.sys / "fs/resctrl").mkdir(parents=True, exist_ok=True)  # present but not mounted, as on a host
        (self.sys / "fs/cgroup").mkdir(parents=True, exist_ok=True)

    @property
    def proc(self) -> Path:
        return self.root / "proc"

    @property
    def sys(self) -> Path:
        return self.root / "sys"

    @property
    def cgroup(self) -> Path:
        return self.sys / "fs/cgroup"

    @property
    def resctrl(self) -> Path:
        return self.sys / "fs/resctrl"

    def args(self) -> list[str]:
        """The agent's root-path flags for this tree."""
        return ["--proc", str(self.proc), "--sys", str(self.sys)]

    def set_cpu_times(self, *, busy: int, idle: int) -> None:
        """/proc/stat with the aggregate line split as user/system and idle/iowait, plus per-CPU lines."""
        user, system = busy * 3 // 4, busy - busy * 3 // 4
        lines = [f"cpu  {user} 0 {system} {idle - idle // 10} {idle // 10} 0 0 0 0 0"]
        lines += [
            f"cpu{n} {user // self.cpus} 0 {system // self.cpus} {idle // self.cpus} 0 0 0 0 0 0"
            for n in range(self.cpus)
        ]
        (self.proc / "stat").write_text("\n".join([*lines, "ctxt 1000", "btime 1795449092", ""]))

    def set_pressure(self, **avg10: float) -> None:
        """/proc/pressure/<resource> with the given `some avg10` per resource (cpu, memory, io)."""
        (self.proc / "pressure").mkdir(exist_ok=True)
        for resource, value in avg10.items():
            (self.proc / "pressure" / resource).write_text(
                f"some avg10={value:.2f} avg60=0.00 avg300=0.00 total=123\n"
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
            )

    def add_l3(self, *, caches: int, size_kb: int) -> None:
        """One level-3 cache per group of CPUs, described under each CPU's cache/index3 as sysfs does."""
        per_cache = max(self.cpus // caches, 1)
        for cpu in range(self.cpus):
            cache_id = min(cpu // per_cache, caches - 1)
            index = self.sys / f"devices/system/cpu/cpu{cpu}/cache/index3"
            index.mkdir(parents=True, exist_ok=True)
            first = cache_id * per_cache
            (index / "level").write_text("3\n")
            (index / "size").write_text(f"{size_kb}K\n")
            (index / "id").write_text(f"{cache_id}\n")
            (index / "shared_cpu_list").write_text(f"{first}-{first + per_cache - 1}\n")
            index2 = self.sys / f"devices/system/cpu/cpu{cpu}/cache/index2"
            index2.mkdir(parents=True, exist_ok=True)
            (index2 / "level").write_text("2\n")
            (index2 / "size").write_text("1024K\n")

    def mount_resctrl(
        self,
        *,
        domains: int,
        features: Iterable[str] = ("llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"),
        groups: Iterable[str] = (),
    ) -> None:
        """A mounted resctrl: info/L3_MON/mon_features, and mon_data domains for the root and each group."""
        (self.resctrl / "info/L3_MON").mkdir(parents=True, exist_ok=True)
        (self.resctrl / "info/L3_MON/mon_features").write_text("".join(f"{f}\n" for f in features))
        (self.resctrl / "mon_groups").mkdir(exist_ok=True)
        for group in ("", *groups):
            for domain in range(domains):
                (self.resctrl / group / "mon_data" / f"mon_L3_{domain:02d}").mkdir(parents=True, exist_ok=True)

    def set_resctrl(self, event: str, value: int | str, *, domain: int, group: str = "") -> None:
        (self.resctrl / group / "mon_data" / f"mon_L3_{domain:02d}" / event).write_text(f"{value}\n")

    def unmount_resctrl(self) -> None:
        shutil.rmtree(self.resctrl)
        self.resctrl.mkdir()

    def enable_cgroup_v2(self, *, slice_name: str = "kubepods.slice", cpu_controller: bool = True) -> None:
        (self.cgroup / "cgroup.controllers").write_text(
            "cpuset cpu io memory pids\n" if cpu_controller else "memory pids\n"
        )
        self.set_cpu_stat(slice_name, periods=0 if cpu_controller else None, throttled=0)

    def set_cpu_stat(self, path: str, *, periods: int | None, throttled: int = 0) -> None:
        """A cgroup's cpu.stat; `periods` None writes the file as it is without the cpu controller."""
        directory = self.cgroup / path
        directory.mkdir(parents=True, exist_ok=True)
        text = "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n"
        if periods is not None:
            text += f"nr_periods {periods}\nnr_throttled {throttled}\nthrottled_usec {throttled * 1000}\n"
        (directory / "cpu.stat").write_text(text)

    def remove_cgroup(self, path: str) -> None:
        shutil.rmtree(self.cgroup / path)
