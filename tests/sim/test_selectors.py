"""Label and field selectors parse and match as `k8s.io/apimachinery/pkg/{labels,fields}` do."""

import pytest

from sim.selectors import SelectorError, parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "frontend", "version": "3", "empty": ""}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        pytest.param("", True, id="the empty selector matches everything"),
        pytest.param("app=web", True, id="equality matches the same value"),
        pytest.param("app==web", True, id="double equals is equality"),
        pytest.param("app=db", False, id="equality rejects another value"),
        pytest.param("app!=db", True, id="inequality matches another value"),
        pytest.param("missing!=x", True, id="inequality matches a missing key"),
        pytest.param("missing=", False, id="equality to empty needs the key"),
        pytest.param("empty=", True, id="equality to empty matches an empty value"),
        pytest.param("app in (web, api)", True, id="in matches a listed value"),
        pytest.param("app in (db)", False, id="in rejects an unlisted value"),
        pytest.param("app notin (db,api)", True, id="notin matches an unlisted value"),
        pytest.param("missing notin (x)", True, id="notin matches a missing key"),
        pytest.param("tier", True, id="a bare key requires existence"),
        pytest.param("!tier", False, id="a negated key requires absence"),
        pytest.param("!missing", True, id="a negated missing key matches"),
        pytest.param("version>2", True, id="gt compares integers"),
        pytest.param("version<3", False, id="lt compares integers"),
        pytest.param("app=web,tier=frontend", True, id="all requirements must hold"),
        pytest.param("app=web,tier=backend", False, id="one failing requirement fails the selector"),
        pytest.param(" app = web , tier ", True, id="whitespace around tokens is ignored"),
        pytest.param("example.com/team in (a),app", False, id="prefixed keys parse"),
    ],
)
def test_label_selector_matches(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param("app in web", id="in without parentheses"),
        pytest.param("app in ()", id="an empty value set"),
        pytest.param("app in (web", id="an unclosed value set"),
        pytest.param("app=web,", id="a trailing comma"),
        pytest.param("-app=web", id="a key not starting with an alphanumeric"),
        pytest.param("app=we b", id="a space inside a value"),
        pytest.param("app>x", id="gt with a non-integer"),
        pytest.param("app=web)", id="a stray parenthesis"),
        pytest.param("!", id="a negation without a key"),
    ],
)
def test_bad_label_selectors_are_rejected(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


POD_FIELDS = {"metadata.name": "web-1", "spec.nodeName": "", "status.phase": "Pending", "spec.schedulerName": "s"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        pytest.param("", True, id="the empty selector matches everything"),
        pytest.param("metadata.name=web-1", True, id="equality on a field"),
        pytest.param("metadata.name==web-1", True, id="double equals is equality"),
        pytest.param("spec.nodeName=", True, id="an empty value matches an unset field (unscheduled pods)"),
        pytest.param("spec.nodeName!=", False, id="not-empty rejects an unset field"),
        pytest.param("status.phase!=Succeeded,status.phase!=Failed", True, id="kube-scheduler's active-pod filter"),
        pytest.param("spec.nodeName=,spec.schedulerName=s", True, id="all terms must hold"),
        pytest.param("spec.nodeName=,spec.schedulerName=t", False, id="one failing term fails the selector"),
    ],
)
def test_field_selector_matches(selector: str, matches: bool) -> None:
    parsed = parse_field_selector(selector, supported=POD_FIELDS)
    assert parsed.matches(lambda name: POD_FIELDS[name]) is matches


def test_field_selector_values_may_escape_separators() -> None:
    parsed = parse_field_selector(r"metadata.name=a\,b\=c")
    assert parsed.requirements[0].value == "a,b=c"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        pytest.param("spec.foo=x", "field label not supported: spec.foo", id="an unsupported field"),
        pytest.param("metadata.name", "can't understand", id="a term without an operator"),
        pytest.param("=x", "can't understand", id="a term without a field"),
        pytest.param(r"metadata.name=a\x", "invalid escape", id="an invalid escape"),
    ],
)
def test_bad_field_selectors_are_rejected(selector: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        parse_field_selector(selector, supported=POD_FIELDS)


def test_equals_pins_a_field_for_index_lookups() -> None:
    parsed = parse_field_selector("spec.nodeName=node-1,status.phase!=Failed")
    assert parsed.equals("spec.nodeName") == "node-1"
    assert parsed.equals("status.phase") is None
