"""Selector semantics, one object at a time and vectorised over nodes, must agree."""

import numpy as np
import pytest

from cluster.labels import LabelIndex, matches_requirement, selector_matches, term_matches
from cluster.objects import LabelSelector, NodeSelectorTerm, Requirement

NODES = [
    {"zone": "a", "cores": "8"},
    {"zone": "b", "cores": "32"},
    {"cores": "x"},
    {},
]
NAMES = ["n0", "n1", "n2", "n3"]


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        pytest.param(Requirement("zone", "In", ("a", "c")), [True, False, False, False], id="In"),
        pytest.param(Requirement("zone", "NotIn", ("a",)), [False, True, True, True], id="NotIn matches absent keys"),
        pytest.param(Requirement("zone", "Exists"), [True, True, False, False], id="Exists"),
        pytest.param(Requirement("zone", "DoesNotExist"), [False, False, True, True], id="DoesNotExist"),
        pytest.param(Requirement("cores", "Gt", ("16",)), [False, True, False, False], id="Gt skips non-integers"),
        pytest.param(Requirement("cores", "Lt", ("16",)), [True, False, False, False], id="Lt"),
        pytest.param(Requirement("cores", "Gt", ("many",)), [False] * 4, id="Gt with a non-integer operand"),
        pytest.param(Requirement("zone", "Sideways", ("a",)), [False] * 4, id="an unknown operator matches nothing"),
    ],
)
def test_requirement_scalar_and_vector_agree(req, expected):
    assert [matches_requirement(labels, req) for labels in NODES] == expected
    assert LabelIndex(NODES, NAMES).requirement(req).tolist() == expected


def test_an_empty_node_selector_term_matches_no_node():
    term = NodeSelectorTerm()
    assert not term_matches(term, {"a": "b"}, "n0")
    assert not LabelIndex(NODES, NAMES).term(term).any()


def test_match_fields_select_by_node_name():
    term = NodeSelectorTerm(match_fields=(Requirement("metadata.name", "In", ("n1", "n3")),))
    assert LabelIndex(NODES, NAMES).term(term).tolist() == [False, True, False, True]
    assert [term_matches(term, labels, name) for labels, name in zip(NODES, NAMES, strict=True)] == [
        False,
        True,
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        pytest.param(None, {"app": "x"}, False, id="a missing selector matches nothing"),
        pytest.param(LabelSelector(), {"app": "x"}, True, id="an empty selector matches everything"),
        pytest.param(LabelSelector((("app", "x"),)), {"app": "x", "tier": "y"}, True, id="matchLabels subset"),
        pytest.param(LabelSelector((("app", "x"),)), {"tier": "y"}, False, id="matchLabels key missing"),
    ],
)
def test_label_selector(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


def test_equals_on_an_unknown_value_is_all_false():
    assert np.array_equal(LabelIndex(NODES, NAMES).equals("zone", "z"), [False] * 4)
