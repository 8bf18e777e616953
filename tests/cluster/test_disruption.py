"""PodDisruptionBudgets as preemption reads them (`cluster.disruption`): the status fields, or a one-line error."""

from typing import Any

import pytest

from cluster.disruption import Budget, parse_budget
from cluster.objects import LabelSelector
from cluster.parse import ManifestError

WEB = {"selector": {"matchLabels": {"app": "web"}}}


def pdb(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop"}, "spec": spec or {}, "status": status or {}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            pdb(WEB, {"disruptionsAllowed": 1, "disruptedPods": {"web-1": "2026-01-01T00:00:00Z"}}),
            Budget("shop", "web", LabelSelector((("app", "web"),)), 1, frozenset({"web-1"})),
            id="selector, disruptions allowed and the pods already disrupted",
        ),
        pytest.param(
            pdb(WEB),
            Budget("shop", "web", LabelSelector((("app", "web"),)), 0, frozenset()),
            id="no status yet: the controller has not counted it, so nothing may be disrupted",
        ),
        pytest.param(
            pdb(),
            Budget("shop", "web", None, 0, frozenset()),
            id="no selector: matches no pod",
        ),
    ],
)
def test_parse_budget(raw: dict[str, Any], expected: Budget) -> None:
    assert parse_budget(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            pdb(status={"disruptionsAllowed": "1"}),
            "poddisruptionbudget shop/web: status.disruptionsAllowed must be an integer, not '1'",
            id="a string count",
        ),
        pytest.param(
            pdb(status={"disruptedPods": ["web-1"]}),
            "poddisruptionbudget shop/web: status.disruptedPods must be a map",
            id="disrupted pods as a list",
        ),
        pytest.param(
            pdb({"selector": "app=web"}),
            "poddisruptionbudget shop/web: spec.selector must be a label selector",
            id="a selector written as a string",
        ),
        pytest.param(
            {**pdb(), "status": "healthy"},
            "poddisruptionbudget shop/web: malformed ('str' object has no attribute 'get')",
            id="a status written as a string",
        ),
        pytest.param(
            {"metadata": "web"},
            "poddisruptionbudget (unnamed): malformed ('str' object has no attribute 'get')",
            id="metadata written as a string",
        ),
    ],
)
def test_a_malformed_budget_is_one_clear_error(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_budget(raw)  # type: ignore[arg-type]
    assert str(caught.value) == message
