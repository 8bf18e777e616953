"""Hardware counters through `perf_event_open`: cpi, llc_miss_rate and llc_mpki, system-wide per CPU.

Two layers. The syscall layer (`open_event`, `enable_group`, `read_group`) is the only code that calls
the kernel, through ctypes; `PerfCollector` takes it injected so tests can fail or replay it. The
arithmetic (`parse_group_read`, `scaled_delta`, `derive`, `failure_reason`) is pure and is tested on
recorded readings. Each CPU gets one group (cycles as leader, then instructions, LLC references and
misses) so all four are counted over the same time slices; multiplexing is corrected by scaling each
interval's deltas by time enabled / time running. An event this PMU lacks drops only the metrics that
need it; a permission failure drops them all. Never samples, never counts per task.
"""

import ctypes
import errno
import fcntl
import os
import platform
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from agent.collector import Availability, read_text

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_FORMAT_TOTAL_TIME_ENABLED = 1
PERF_FORMAT_TOTAL_TIME_RUNNING = 2
PERF_FORMAT_GROUP = 8
READ_FORMAT = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_GROUP
PERF_ATTR_SIZE_VER0 = 64  # the first published layout; every kernel accepts it and zero-extends the rest
ATTR_FLAG_DISABLED = 1 << 0
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400  # _IO('$', 0)
PERF_IOC_FLAG_GROUP = 1
SYSCALL_NUMBERS = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "ppc64le": 319, "s390x": 331, "i686": 336}
MAX_CPUS = 8192
"""The largest NR_CPUS any architecture's Kconfig allows (x86_64 with MAXSMP): a CPU list naming a higher
CPU is not the kernel's, and expanding a range like `0-99999999` would build a list that long."""


@dataclass(frozen=True)
class EventSpec:
    """One counter: its name in reasons, and the perf_event_attr type and config that select it."""

    name: str
    type: int
    config: int


EVENTS = (
    EventSpec("cycles", PERF_TYPE_HARDWARE, 0),
    EventSpec("instructions", PERF_TYPE_HARDWARE, 1),
    EventSpec("cache-references", PERF_TYPE_HARDWARE, 2),  # the generic event maps to LLC references
    EventSpec("cache-misses", PERF_TYPE_HARDWARE, 3),
)
METRIC_EVENTS = {
    "cpi": ("cycles", "instructions"),
    "llc_miss_rate": ("cache-references", "cache-misses"),
    "llc_mpki": ("cache-misses", "instructions"),
}


@dataclass(frozen=True)
class GroupReading:
    """One read() of a group leader: nanoseconds enabled and running, then each member's raw count."""

    time_enabled: int
    time_running: int
    values: tuple[int, ...]


def parse_group_read(data: bytes) -> GroupReading:
    """Decode `{u64 nr; u64 time_enabled; u64 time_running; u64 value[nr]}` (native byte order)."""
    if len(data) < 24 or len(data) % 8:
        raise ValueError(f"perf group read of {len(data)} bytes is not a read_format group")
    count, enabled, running = struct.unpack_from("=3Q", data)
    if len(data) != 8 * (3 + count):
        raise ValueError(f"perf group read announces {count} counters in {len(data)} bytes")
    return GroupReading(enabled, running, struct.unpack_from(f"={count}Q", data, 24))


def scaled_delta(previous: GroupReading, current: GroupReading) -> tuple[float, ...] | None:
    """Each counter's increase over the interval, extrapolated to the time the group was enabled.

    None when the group never ran in the interval (all multiplexed out) or a counter went back.
    """
    enabled = current.time_enabled - previous.time_enabled
    running = current.time_running - previous.time_running
    if running <= 0 or enabled < running or len(previous.values) != len(current.values):
        return None
    deltas = [now - before for before, now in zip(previous.values, current.values, strict=True)]
    if any(delta < 0 for delta in deltas):
        return None
    scale = enabled / running
    return tuple(delta * scale for delta in deltas)


def derive(totals: Mapping[str, float]) -> dict[str, float]:
    """The contract's perf metrics from node-wide event counts; a metric whose inputs are absent or zero is left out."""
    metrics: dict[str, float] = {}
    cycles, instructions = totals.get("cycles"), totals.get("instructions")
    references, misses = totals.get("cache-references"), totals.get("cache-misses")
    if cycles and instructions:
        metrics["cpi"] = cycles / instructions
    if references and misses is not None:
        metrics["llc_miss_rate"] = misses / references
    if instructions and misses is not None:
        metrics["llc_mpki"] = misses * 1000.0 / instructions
    return metrics


def failure_reason(code: int, *, paranoid: int | None = None) -> str:
    """Why perf_event_open failed, in words an operator can act on."""
    if code in (errno.EACCES, errno.EPERM):
        level = "unknown" if paranoid is None else str(paranoid)
        return (
            f"permission denied ({errno.errorcode[code]}): needs CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8) "
            f"or kernel.perf_event_paranoid <= 0 (it is {level})"
        )
    if code == errno.ENOENT:
        return "unsupported event (ENOENT): this PMU does not provide it, or a VM exposes no PMU"
    if code == errno.EOPNOTSUPP:
        return "unsupported (EOPNOTSUPP): no hardware PMU counting on this CPU"
    if code == errno.ENODEV:
        return "no PMU for this CPU (ENODEV)"
    if code == errno.EINVAL:
        return "rejected (EINVAL): the event or the group does not fit this PMU"
    if code in (errno.EMFILE, errno.ENFILE):
        return f"out of file descriptors ({errno.errorcode[code]})"
    return f"perf_event_open failed ({errno.errorcode.get(code, code)}: {os.strerror(code)})"


def parse_cpu_list(text: str) -> list[int]:
    """sysfs CPU list ("0-3,8,10-11") to CPU numbers; ValueError for a range the kernel would not write."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        low_text, _, high_text = part.partition("-")
        low, high = int(low_text), int(high_text or low_text)
        if low > high:
            raise ValueError(f"CPU range {part!r} runs backwards")
        if high >= MAX_CPUS:
            raise ValueError(f"CPU {high} is beyond the kernel's NR_CPUS limit of {MAX_CPUS}")
        cpus.extend(range(low, high + 1))
    return cpus


# The syscall layer: the only code here that talks to the kernel.

Opener = Callable[[EventSpec, int, int], int]
Enabler = Callable[[int], None]
Reader = Callable[[int, int], bytes]


def _libc_syscall() -> Callable[..., int]:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall


def open_event(spec: EventSpec, cpu: int, group_fd: int) -> int:
    """perf_event_open(attr, pid=-1, cpu, group_fd, CLOEXEC): a leader (group_fd -1) starts disabled."""
    number = SYSCALL_NUMBERS.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"perf_event_open syscall number unknown for {platform.machine()}")
    flags = ATTR_FLAG_DISABLED if group_fd == -1 else 0
    attr = struct.pack("=IIQQQQQ", spec.type, PERF_ATTR_SIZE_VER0, spec.config, 0, 0, READ_FORMAT, flags)
    buffer = ctypes.create_string_buffer(attr, PERF_ATTR_SIZE_VER0)
    pid_all = ctypes.c_long(-1)
    fd = _libc_syscall()(
        ctypes.c_long(number),
        buffer,
        pid_all,
        ctypes.c_long(cpu),
        ctypes.c_long(group_fd),
        ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC),
    )
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def enable_group(leader_fd: int) -> None:
    fcntl.ioctl(leader_fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP)


def read_group(leader_fd: int, members: int) -> bytes:
    return os.read(leader_fd, 8 * (3 + members))


class PerfCollector:
    """One counter group per online CPU (from `sys_root`), counting everything that runs there."""

    name = "perf"

    def __init__(
        self,
        *,
        sys_root: str = "/sys",
        proc_root: str = "/proc",
        events: Sequence[EventSpec] = EVENTS,
        opener: Opener = open_event,
        enabler: Enabler = enable_group,
        reader: Reader = read_group,
    ) -> None:
        self._sys_root = sys_root
        self._proc_root = proc_root
        self._events = tuple(events)
        self._opener, self._enabler, self._reader = opener, enabler, reader
        self._names: tuple[str, ...] = ()
        self._fds: dict[int, list[int]] = {}
        self._previous: dict[int, GroupReading] = {}

    def _paranoid(self) -> int | None:
        try:
            return int(read_text(os.path.join(self._proc_root, "sys/kernel/perf_event_paranoid")))
        except (OSError, ValueError):
            return None

    def _cpus(self) -> list[int]:
        """The online CPUs, or every CPU `os.cpu_count` knows where sysfs does not say.

        ValueError (the reason) when sysfs does say but lists no CPU or an impossible one: guessing
        then could count on CPUs that are not there, so perf is reported unavailable instead.
        """
        path = os.path.join(self._sys_root, "devices/system/cpu/online")
        try:
            text = read_text(path)
        except OSError:
            return list(range(os.cpu_count() or 1))
        try:
            cpus = parse_cpu_list(text)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if not cpus:
            raise ValueError(f"{path} lists no online CPU")
        return cpus

    def open(self) -> Availability:
        try:
            cpus = self._cpus()
        except ValueError as exc:
            return self._availability({}, everything=str(exc))
        reasons: dict[str, str] = {}
        usable: list[EventSpec] = []
        first: list[int] = []
        for spec in self._events:  # the first CPU decides which events this node's PMU has
            try:
                first.append(self._opener(spec, cpus[0], first[0] if first else -1))
                usable.append(spec)
            except OSError as exc:
                code = exc.errno or 0
                if code in (errno.EACCES, errno.EPERM):
                    self._close_fds(first)
                    return self._availability({}, everything=failure_reason(code, paranoid=self._paranoid()))
                reasons[spec.name] = failure_reason(code)
        if first:
            self._fds[cpus[0]] = first
        for cpu in cpus[1:] if usable else ():
            fds: list[int] = []
            try:
                for spec in usable:
                    fds.append(self._opener(spec, cpu, fds[0] if fds else -1))
            except OSError:
                self._close_fds(fds)  # an offline or PMU-less CPU; the others still count
                continue
            self._fds[cpu] = fds
        for cpu_fds in self._fds.values():
            self._enabler(cpu_fds[0])
        self._names = tuple(spec.name for spec in usable)
        return self._availability(reasons)

    def _availability(self, reasons: Mapping[str, str], *, everything: str | None = None) -> Availability:
        missing: dict[str, str] = {}
        for metric, needed in METRIC_EVENTS.items():
            if everything is not None:
                missing[metric] = everything
                continue
            lacking = [name for name in needed if name in reasons]
            if lacking:
                missing[metric] = f"event {lacking[0]}: {reasons[lacking[0]]}"
        return Availability(self.name, tuple(m for m in METRIC_EVENTS if m not in missing), missing)

    def sample(self, now: float) -> dict[str, float]:
        totals = dict.fromkeys(self._names, 0.0)
        counted = 0
        for cpu, fds in self._fds.items():
            try:
                reading = parse_group_read(self._reader(fds[0], len(fds)))
            except (OSError, ValueError):
                self._previous.pop(cpu, None)
                continue
            previous, self._previous[cpu] = self._previous.get(cpu), reading
            delta = None if previous is None else scaled_delta(previous, reading)
            if delta is None:
                continue
            counted += 1
            for name, value in zip(self._names, delta, strict=True):
                totals[name] += value
        return derive(totals) if counted else {}

    def close(self) -> None:
        for fds in self._fds.values():
            self._close_fds(fds)
        self._fds.clear()
        self._previous.clear()

    @staticmethod
    def _close_fds(fds: Sequence[int]) -> None:
        for fd in reversed(fds):
            try:
                os.close(fd)
            except OSError:
                continue
