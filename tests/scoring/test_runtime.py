"""The profile runtime: a profile is checked whole at start, and a score plugin that breaks 0..100 is stopped."""

import numpy as np
import pytest

from cluster.config import DEFAULT_SCORE_WEIGHTS, Settings
from cluster.snapshot import Snapshot
from scoring.framework import PluginError, PodInfo
from scoring.registry import Registry, in_tree
from scoring.runtime import DEFAULT_FILTERS, KUBE_SCORE_WEIGHTS, Profile, ProfileError, run_filters, run_scores
from tests.builders import make_node, make_pod


class Scores:
    """A score plugin that returns what it is given."""

    def __init__(self, name: str, scores: object) -> None:
        self.name = name
        self.scores = scores

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> object:
        return self.scores


def with_scorer(plugin: Scores) -> Registry:
    registry = in_tree()
    registry.register(plugin.name, lambda _: plugin)
    return registry


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return Snapshot.build([make_node("a"), make_node("b")], [])


@pytest.mark.parametrize(
    ("filters", "weights", "message"),
    [
        pytest.param(["NoSuch"], {}, r"unknown plugin 'NoSuch'; registered: ", id="an unknown filter"),
        pytest.param([], {"NoSuch": 1}, r"unknown plugin 'NoSuch'", id="an unknown score plugin"),
        pytest.param(["InterferenceAware"], {}, r"plugin 'InterferenceAware' has no filter", id="a scorer as a filter"),
        pytest.param([], {"NodeName": 1}, r"plugin 'NodeName' has no score", id="a filter as a scorer"),
        pytest.param([], {"NodeAffinity": 0}, r"weight 0; weights are positive integers", id="a zero weight"),
        pytest.param([], {"NodeAffinity": -2}, r"weight -2; weights are positive", id="a negative weight"),
        pytest.param([], {"NodeAffinity": 1.5}, r"weight 1\.5; weights are positive", id="a fractional weight"),
    ],
)
def test_a_profile_that_cannot_run_is_refused_at_build(filters: list[str], weights: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        Profile.build(filters=filters, weights=weights)


def test_the_default_profile_pre_filters_with_exactly_the_plugins_that_declare_it() -> None:
    profile = Profile.build()
    assert [p.name for p in profile.filters] == list(DEFAULT_FILTERS)
    assert [p.name for p in profile.pre_filters] == ["NodeAffinity", "VolumeBinding"]


def test_a_pre_filter_restricts_the_nodes_before_the_filters_run(snapshot: Snapshot) -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    pod = make_pod("p", spec={"affinity": affinity})
    outcome = run_filters(Profile.build(), PodInfo.of(pod, snapshot), snapshot)
    assert [snapshot.names[i] for i in outcome.feasible] == ["b"]
    assert outcome.reasons_by_node(snapshot.names) == {"a": "node(s) didn't satisfy plugin(s) [NodeAffinity]"}


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        pytest.param([101, 50], r"invalid score 50\.\.101, it should in the range of \[0, 100\]", id="above 100"),
        pytest.param([-1, 50], r"invalid score -1\.\.50", id="below 0"),
        pytest.param([50], r"returned \(1,\) scores for 2 nodes", id="one score for two nodes"),
    ],
)
def test_a_score_outside_0_to_100_or_of_the_wrong_shape_stops_the_pod(
    snapshot: Snapshot, scores: list[int], message: str
) -> None:
    profile = Profile.build(filters=[], weights={"Broken": 1}, registry=with_scorer(Scores("Broken", scores)))
    pod = PodInfo.of(make_pod("p"), snapshot)
    with pytest.raises(PluginError, match=message):
        run_scores(profile, pod, snapshot, np.arange(2))


def test_scores_are_weighted_and_a_skipping_plugin_counts_for_nothing(snapshot: Snapshot) -> None:
    registry = with_scorer(Scores("Low", [10, 40]))
    registry.register("Skips", lambda _: Scores("Skips", None))
    profile = Profile.build(filters=[], weights={"Low": 3, "Skips": 5}, registry=registry)
    outcome = run_scores(profile, PodInfo.of(make_pod("p"), snapshot), snapshot, np.arange(2))
    assert outcome.weight_sum == 3
    assert outcome.normalized.tolist() == pytest.approx([10.0, 40.0])
    assert outcome.per_plugin["Skips"].tolist() == [0, 0]


def test_the_one_default_of_the_weights_is_kube_scheduler_s_plus_interference_aware() -> None:
    assert Settings().scoring.weights == dict(DEFAULT_SCORE_WEIGHTS)
    assert dict(DEFAULT_SCORE_WEIGHTS) == {**KUBE_SCORE_WEIGHTS, "InterferenceAware": 5}
    assert Profile.build().score_names == tuple(DEFAULT_SCORE_WEIGHTS)
