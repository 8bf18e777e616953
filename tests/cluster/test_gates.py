"""The SchedulingGates PreEnqueue check, case for case from upstream's
`pkg/scheduler/framework/plugins/schedulinggates/schedulinggates_test.go` TestPreEnqueue (v1.33)."""

import pytest

from cluster.gates import pre_enqueue
from cluster.parse import ManifestError, parse_pod
from tests.builders import pod_json


@pytest.mark.parametrize(
    ("gates", "want"),
    [
        pytest.param(None, None, id="TestPreEnqueue v1.33: pod does not carry scheduling gates"),
        pytest.param(
            ["foo", "bar"],
            "waiting for scheduling gates: [foo bar]",
            id="TestPreEnqueue v1.33: pod carries scheduling gates",
        ),
        pytest.param([], None, id="an empty gate list is no gate"),
    ],
)
def test_pre_enqueue(gates, want):
    spec = {} if gates is None else {"schedulingGates": [{"name": g} for g in gates]}
    assert pre_enqueue(parse_pod(pod_json("p", spec=spec))) == want


def test_a_gate_without_a_name_is_a_clear_manifest_error():
    with pytest.raises(ManifestError, match=r"pod default/p: spec.schedulingGates\[0\] needs a name"):
        parse_pod(pod_json("p", spec={"schedulingGates": [{}]}))
