"""The plugin registry: one name per plugin, unknown names refused with the list, every shipped module registered."""

from pathlib import Path

import pytest

from scoring import registry
from scoring.framework import FilterPlugin, Plugin, PreFilterPlugin, ScorePlugin
from scoring.registry import (
    IN_TREE,
    DuplicatePluginError,
    PluginModuleError,
    Registry,
    UnknownPluginError,
    in_tree,
    plugin_module,
)

PLUGINS = Path(registry.__file__).resolve().parent / "plugins"


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_a_second_plugin_under_one_name_is_refused_and_the_first_kept() -> None:
    plugins = Registry()
    plugins.register("A", lambda _: Named("first"))
    with pytest.raises(DuplicatePluginError, match="a plugin named 'A' is already registered"):
        plugins.register("A", lambda _: Named("second"))
    assert plugins.build("A").name == "first"


def test_an_unknown_plugin_is_refused_with_the_registered_names() -> None:
    plugins = Registry()
    plugins.register("B", Named)
    plugins.register("A", Named)
    with pytest.raises(UnknownPluginError, match=r"unknown plugin 'C'; registered: A, B$"):
        plugins.build("C")


def test_the_factory_gets_its_arguments_as_a_fresh_dict() -> None:
    seen = []
    plugins = Registry()
    plugins.register("A", lambda args: seen.append(args) or Named("A"))
    given = {"k": 1}
    plugins.build("A", given)
    plugins.build("A")
    assert seen == [{"k": 1}, {}] and seen[0] is not given


def test_every_module_in_scoring_plugins_is_registered_once() -> None:
    shipped = sorted(path.stem for path in PLUGINS.glob("*.py") if path.stem != "__init__")
    assert sorted(IN_TREE) == shipped, "a plugin module is missing from scoring.registry.IN_TREE (or listed twice)"


def test_the_in_tree_registry_builds_every_plugin_with_a_declared_extension_point() -> None:
    plugins = in_tree()
    assert len(plugins.names()) == len(IN_TREE)
    for name in plugins.names():
        plugin = plugins.build(name)
        assert isinstance(plugin, Plugin) and plugin.name == name
        assert isinstance(plugin, FilterPlugin | ScorePlugin), f"{name} implements no extension point"


@pytest.mark.parametrize(
    ("name", "filter", "pre_filter", "score"),
    [
        pytest.param("NodeAffinity", True, True, True, id="NodeAffinity pre-filters, filters and scores"),
        pytest.param("NodeName", True, False, False, id="NodeName only filters"),
        pytest.param("InterferenceAware", False, False, True, id="InterferenceAware only scores"),
        pytest.param("NodeResourcesFit", True, False, True, id="NodeResourcesFit filters and scores"),
    ],
)
def test_the_extension_points_are_told_by_the_declared_protocols(
    name: str, filter: bool, pre_filter: bool, score: bool
) -> None:
    plugin = in_tree().build(name)
    assert isinstance(plugin, FilterPlugin) is filter
    assert isinstance(plugin, PreFilterPlugin) is pre_filter
    assert isinstance(plugin, ScorePlugin) is score


def test_a_listed_module_without_name_or_factory_is_refused_by_name() -> None:
    with pytest.raises(PluginModuleError, match=r"scoring\.framework .* defines no \['NAME', 'new'\]"):
        plugin_module(__import__("scoring.framework", fromlist=["framework"]))
