"""The pod's needs (CONTRACTS §2): defaults, and invalid values ignored with a warning."""

import pytest

from cluster.needs import Dimension, WorkloadClass, parse_needs
from tests.builders import make_pod

LC = "ai-scheduler.io/workload-class"


@pytest.mark.parametrize(
    ("annotations", "cpu", "klass", "sensitivity", "noisy", "target", "warned"),
    [
        pytest.param({}, "1", WorkloadClass.THROUGHPUT, set(), set(), None, False, id="default class is throughput"),
        pytest.param({}, None, WorkloadClass.BEST_EFFORT, set(), set(), None, False, id="BestEffort QoS"),
        pytest.param(
            {LC: "latency-critical"},
            "1",
            WorkloadClass.LATENCY_CRITICAL,
            {Dimension.LLC, Dimension.MEMBW, Dimension.CPU},
            set(),
            None,
            False,
            id="latency-critical defaults to llc, membw and cpu",
        ),
        pytest.param(
            {LC: "latency-critical", "ai-scheduler.io/sensitivity": "io", "ai-scheduler.io/p99-target-ms": "2.5"},
            "1",
            WorkloadClass.LATENCY_CRITICAL,
            {Dimension.IO},
            set(),
            2.5,
            False,
            id="explicit sensitivity and target",
        ),
        pytest.param(
            {"ai-scheduler.io/noisy": "membw, llc"},
            "1",
            WorkloadClass.THROUGHPUT,
            set(),
            {Dimension.MEMBW, Dimension.LLC},
            None,
            False,
            id="noisy list with spaces",
        ),
        pytest.param({LC: "urgent"}, "1", WorkloadClass.THROUGHPUT, set(), set(), None, True, id="unknown class"),
        pytest.param(
            {LC: "latency-critical", "ai-scheduler.io/sensitivity": "llc,gpu"},
            "1",
            WorkloadClass.LATENCY_CRITICAL,
            {Dimension.LLC, Dimension.MEMBW, Dimension.CPU},
            set(),
            None,
            True,
            id="an unknown dimension keeps the default sensitivity",
        ),
        pytest.param(
            {"ai-scheduler.io/p99-target-ms": "-3"},
            "1",
            WorkloadClass.THROUGHPUT,
            set(),
            set(),
            None,
            True,
            id="bad P99",
        ),
        pytest.param(
            {"ai-scheduler.io/p99-target-ms": "inf"}, "1", WorkloadClass.THROUGHPUT, set(), set(), None, True, id="inf"
        ),
    ],
)
def test_parse_needs(annotations, cpu, klass, sensitivity, noisy, target, warned):
    parsed = parse_needs(make_pod(cpu=cpu, annotations=annotations))
    assert parsed.needs.workload_class is klass
    assert parsed.needs.sensitivity == sensitivity
    assert parsed.needs.noisy == noisy
    assert parsed.needs.p99_target_ms == target
    assert bool(parsed.warnings) is warned


def test_warning_names_the_annotation_the_value_and_what_is_allowed():
    parsed = parse_needs(make_pod(annotations={LC: "urgent"}))
    assert parsed.warnings == (
        "annotation ai-scheduler.io/workload-class='urgent' ignored: not one of latency-critical, throughput, batch, "
        "best-effort",
    )
