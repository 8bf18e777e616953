import errno
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import perf
from tests.telemetry.trees import NodeTree

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"
READINGS = json.loads((FIXTURES / "perf_readings.json").read_text())


def _pack(reading: dict) -> bytes:
    values = reading["values"]
    return struct.pack(f"=3Q{len(values)}Q", len(values), reading["time_enabled"], reading["time_running"], *values)


def test_parse_recorded_group_reads() -> None:
    first = perf.parse_group_read(bytes.fromhex(READINGS["recorded_software_events"]["samples"][0]["0"]))
    assert first == perf.GroupReading(1000375194, 1000375194, (1000374593, 1000376797, 0, 6))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x01" * 20, id="shorter than a header"),
        pytest.param(struct.pack("=4Q", 2, 1, 1, 5), id="announces more counters than it holds"),
    ],
)
def test_malformed_group_read(data: bytes) -> None:
    with pytest.raises(ValueError, match="perf group read"):
        perf.parse_group_read(data)


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        pytest.param(
            perf.GroupReading(0, 0, (0, 0)),
            perf.GroupReading(100, 100, (50, 20)),
            (50.0, 20.0),
            id="always scheduled: raw deltas",
        ),
        pytest.param(
            perf.GroupReading(100, 100, (50, 20)),
            perf.GroupReading(300, 200, (150, 70)),
            (200.0, 100.0),
            id="multiplexed half the interval: deltas doubled",
        ),
        pytest.param(
            perf.GroupReading(100, 100, (50, 20)),
            perf.GroupReading(300, 100, (50, 20)),
            None,
            id="never scheduled in the interval: unknown",
        ),
        pytest.param(
            perf.GroupReading(100, 100, (50, 20)),
            perf.GroupReading(200, 200, (40, 30)),
            None,
            id="a counter that went back: unknown",
        ),
    ],
)
def test_scaled_delta(previous: perf.GroupReading, current: perf.GroupReading, expected: tuple | None) -> None:
    assert perf.scaled_delta(previous, current) == expected


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        pytest.param(
            {"cycles": 2e9, "instructions": 1e9, "cache-references": 1e7, "cache-misses": 2.5e6},
            {"cpi": 2.0, "llc_miss_rate": 0.25, "llc_mpki": 2.5},
            id="all four events",
        ),
        pytest.param({"cycles": 2e9, "instructions": 1e9}, {"cpi": 2.0}, id="a PMU without LLC events"),
        pytest.param(
            {"cycles": 0.0, "instructions": 0.0, "cache-references": 0.0, "cache-misses": 0.0},
            {},
            id="an idle interval says nothing rather than zero",
        ),
    ],
)
def test_derive(totals: dict, expected: dict) -> None:
    assert perf.derive(totals) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        pytest.param(errno.EACCES, "CAP_PERFMON", id="EACCES asks for the capability or paranoid level"),
        pytest.param(errno.EPERM, "perf_event_paranoid <= 0 (it is 2)", id="EPERM names the current paranoid level"),
        pytest.param(errno.ENOENT, "unsupported event", id="ENOENT is an event this PMU lacks"),
        pytest.param(errno.EOPNOTSUPP, "no hardware PMU", id="EOPNOTSUPP is a missing PMU feature"),
        pytest.param(errno.EMFILE, "out of file descriptors", id="EMFILE"),
    ],
)
def test_failure_reason(code: int, words: str) -> None:
    assert words in perf.failure_reason(code, paranoid=2)


def test_parse_cpu_list() -> None:
    assert perf.parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert perf.parse_cpu_list(f"0-{perf.MAX_CPUS - 1}") == list(range(perf.MAX_CPUS))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("3-1", "CPU range '3-1' runs backwards", id="a reversed range"),
        pytest.param("0-18446744073709551616", "NR_CPUS limit of 8192", id="past 2**64: no OverflowError"),
        pytest.param("0-9000", "CPU 9000 is beyond", id="a range past NR_CPUS is not expanded"),
        pytest.param("0,8192", "CPU 8192 is beyond", id="a single CPU past NR_CPUS"),
    ],
)
def test_parse_cpu_list_refuses_what_the_kernel_would_not_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        perf.parse_cpu_list(text)


class FakeKernel:
    """perf_event_open, enable and read replayed from recorded readings; failures by (event, cpu)."""

    def __init__(self, samples: list[dict], fail: dict[tuple[str, int | None], int] | None = None) -> None:
        self._samples: Iterator[dict] = iter(samples)
        self._fail = fail or {}
        self._next_fd = 10_000  # far above the real descriptors a test process holds
        self.leaders: dict[int, int] = {}
        self.enabled: list[int] = []
        self.open_fds: set[int] = set()
        self._current: dict = {}

    def open(self, spec: perf.EventSpec, cpu: int, group_fd: int) -> int:
        code = self._fail.get((spec.name, cpu), self._fail.get((spec.name, None)))
        if code is not None:
            raise OSError(code, "injected")
        self._next_fd += 1
        if group_fd == -1:
            self.leaders[self._next_fd] = cpu
        self.open_fds.add(self._next_fd)
        return self._next_fd

    def enable(self, fd: int) -> None:
        self.enabled.append(fd)

    def read(self, fd: int, members: int) -> bytes:
        cpu = self.leaders[fd]
        if cpu == min(self.leaders.values()):
            self._current = next(self._samples)
        reading = self._current[str(cpu)]
        return bytes.fromhex(reading) if isinstance(reading, str) else _pack(reading)

    def collector(self, tree: NodeTree) -> perf.PerfCollector:
        return perf.PerfCollector(
            sys_root=str(tree.sys), proc_root=str(tree.proc), opener=self.open, enabler=self.enable, reader=self.read
        )


def test_multiplexed_readings_become_the_expected_metrics(tmp_path: Path) -> None:
    fixture = READINGS["multiplexed_hardware"]
    kernel = FakeKernel(fixture["samples"])
    collector = kernel.collector(NodeTree(tmp_path, cpus=2))
    availability = collector.open()
    assert availability.metrics == ("cpi", "llc_miss_rate", "llc_mpki")
    assert len(kernel.enabled) == 2  # one group per CPU, enabled through its leader
    assert collector.sample(0.0) == {}
    assert collector.sample(1.0) == pytest.approx(fixture["expected_metrics"])


def test_recorded_software_readings_flow_through_the_same_arithmetic(tmp_path: Path) -> None:
    kernel = FakeKernel(READINGS["recorded_software_events"]["samples"])
    collector = kernel.collector(NodeTree(tmp_path, cpus=2))
    collector.open()
    collector.sample(0.0)
    values = collector.sample(1.0)
    assert values["cpi"] == pytest.approx(1.0, rel=1e-5)  # cpu-clock / task-clock on the same CPU
    assert "llc_miss_rate" not in values  # page-faults stood in for references and were zero


@pytest.mark.parametrize(
    ("fail", "present", "reason"),
    [
        pytest.param(
            {("cycles", None): errno.EACCES},
            (),
            "permission denied (EACCES)",
            id="no CAP_PERFMON: every perf metric absent, saying why",
        ),
        pytest.param(
            {("cache-misses", None): errno.ENOENT},
            ("cpi",),
            "event cache-misses: unsupported event",
            id="a PMU without an LLC-miss event keeps cpi",
        ),
        pytest.param(
            {("cycles", None): errno.EOPNOTSUPP},
            ("llc_miss_rate", "llc_mpki"),
            "event cycles: unsupported (EOPNOTSUPP)",
            id="no cycles counter: the next event leads the group",
        ),
        pytest.param(
            {(name, None): errno.ENOENT for name in ("cycles", "instructions", "cache-references", "cache-misses")},
            (),
            "unsupported event (ENOENT)",
            id="a VM without a PMU",
        ),
    ],
)
def test_open_failures_are_reported_as_absent(tmp_path: Path, fail: dict, present: tuple, reason: str) -> None:
    kernel = FakeKernel([], fail)
    availability = kernel.collector(NodeTree(tmp_path, cpus=2)).open()
    assert availability.metrics == present
    assert availability.missing
    assert all(reason in text for text in availability.missing.values())
    if not present:
        assert not kernel.enabled


@pytest.mark.parametrize(
    ("online", "reason"),
    [
        pytest.param("\n", "lists no online CPU", id="an empty CPU list"),
        pytest.param("3-1\n", "CPU range '3-1' runs backwards", id="a reversed range"),
        pytest.param("0-99999999\n", "CPU 99999999 is beyond the kernel's NR_CPUS limit", id="an impossible CPU"),
    ],
)
def test_an_unusable_cpu_list_makes_perf_unavailable_saying_why(tmp_path: Path, online: str, reason: str) -> None:
    tree = NodeTree(tmp_path, cpus=2)
    (tree.sys / "devices/system/cpu/online").write_text(online)
    kernel = FakeKernel([])
    availability = kernel.collector(tree).open()
    assert availability.metrics == ()
    assert set(availability.missing) == set(perf.METRIC_EVENTS)
    assert all("devices/system/cpu/online" in text and reason in text for text in availability.missing.values())
    assert kernel.open_fds == set()


def _fake_close(closed: list[int]):
    """os.close that records the fake kernel's descriptors and really closes the others (file reads)."""
    real_close = os.close

    def close(fd: int) -> None:
        if fd >= 10_000:
            closed.append(fd)
        else:
            real_close(fd)

    return close


def test_permission_failure_closes_what_was_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[int] = []
    monkeypatch.setattr(perf.os, "close", _fake_close(closed))
    kernel = FakeKernel([], {("instructions", None): errno.EPERM})
    kernel.collector(NodeTree(tmp_path, cpus=2)).open()
    assert closed == sorted(kernel.open_fds)


def test_a_cpu_that_cannot_open_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perf.os, "close", _fake_close([]))
    kernel = FakeKernel([], {("cycles", 1): errno.ENODEV})
    availability = kernel.collector(NodeTree(tmp_path, cpus=2)).open()
    assert availability.missing == {}
    assert sorted(kernel.leaders.values()) == [0]


def test_the_real_syscall_layer_counts_software_events(tmp_path: Path) -> None:
    """perf_event_open through ctypes, with software events every Linux has (skipped where perf is off)."""
    events = [
        perf.EventSpec(name, perf.PERF_TYPE_SOFTWARE, config)
        for name, config in (("cycles", 0), ("instructions", 1), ("cache-references", 2), ("cache-misses", 3))
    ]
    collector = perf.PerfCollector(sys_root="/sys", proc_root="/proc", events=events)
    availability = collector.open()
    try:
        if not availability.metrics:
            pytest.skip(f"perf_event_open is not allowed here: {availability.missing}")
        collector.sample(0.0)
        sum(range(200_000))  # let cpu-clock advance
        values = collector.sample(1.0)
        assert values["cpi"] > 0
    finally:
        collector.close()
