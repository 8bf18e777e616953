import errno
import shutil
from pathlib import Path

import pytest

from agent.collector import describe_os_error
from agent.psi import PsiCollector, PsiFormatError, parse_some_avg10
from tests.telemetry.trees import NodeTree

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            (FIXTURES / "pressure_memory.txt").read_text(), None, id="recorded memory pressure with a full line"
        ),
        pytest.param(
            (FIXTURES / "pressure_cpu_linux5.4.txt").read_text(), 12.5, id="cpu file before 5.13 has no full line"
        ),
        pytest.param(
            "full avg10=9.00 avg60=0 avg300=0 total=1\nsome avg10=1.25 avg60=0 avg300=0 total=1\n",
            1.25,
            id="the some line is found wherever it is",
        ),
    ],
)
def test_parse_some_avg10(text: str, expected: float | None) -> None:
    value = parse_some_avg10(text)
    assert 0.0 <= value <= 100.0
    if expected is not None:
        assert value == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="an empty file"),
        pytest.param("full avg10=1.00 avg60=0 avg300=0 total=1\n", id="only a full line"),
        pytest.param("some avg10=abc avg60=0 avg300=0 total=1\n", id="a non-numeric avg10"),
    ],
)
def test_malformed_pressure_is_an_error(text: str) -> None:
    with pytest.raises(PsiFormatError):
        parse_some_avg10(text)


def test_collector_reads_the_three_resources(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    tree.set_pressure(cpu=3.5, memory=0.25, io=41.0)
    collector = PsiCollector(str(tree.proc))
    availability = collector.open()
    assert availability.missing == {}
    assert collector.sample(0.0) == {"psi_cpu_some": 3.5, "psi_memory_some": 0.25, "psi_io_some": 41.0}


def test_a_psi_less_kernel_reports_every_psi_metric_absent_with_the_reason(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    collector = PsiCollector(str(tree.proc))
    availability = collector.open()
    assert availability.metrics == ()
    assert set(availability.missing) == {"psi_cpu_some", "psi_memory_some", "psi_io_some"}
    assert all("kernel has no PSI" in reason for reason in availability.missing.values())
    assert collector.sample(0.0) == {}


def test_one_missing_resource_leaves_the_others(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    tree.set_pressure(cpu=1.0, memory=2.0)
    availability = PsiCollector(str(tree.proc)).open()
    assert availability.metrics == ("psi_cpu_some", "psi_memory_some")
    assert "io does not exist" in availability.missing["psi_io_some"]


def test_a_file_that_vanishes_later_is_unknown_for_that_sample_only(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path)
    tree.set_pressure(cpu=1.0, memory=2.0, io=3.0)
    collector = PsiCollector(str(tree.proc))
    collector.open()
    shutil.rmtree(tree.proc / "pressure")
    assert collector.sample(1.0) == {}
    tree.set_pressure(cpu=4.0, memory=2.0, io=3.0)
    assert collector.sample(2.0)["psi_cpu_some"] == 4.0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(
            OSError(errno.EOPNOTSUPP, "Operation not supported"),
            "not supported by this kernel",
            id="psi=0 on the kernel command line refuses reads",
        ),
        pytest.param(PermissionError(errno.EACCES, "Permission denied"), "permission denied", id="no permission"),
        pytest.param(FileNotFoundError(errno.ENOENT, "No such file"), "does not exist", id="a missing file"),
    ],
)
def test_read_errors_have_actionable_reasons(error: OSError, reason: str) -> None:
    assert reason in describe_os_error(error, "/proc/pressure/cpu")
