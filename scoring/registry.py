"""Plugins by name: a name → factory map where a duplicate name is an error.

As kube-scheduler's `runtime.Registry` and its in-tree `plugins/registry.go`: the runtime builds the
enabled plugins from here, and a profile that names an unknown plugin is refused at start rather than
at the first pod. `IN_TREE` is the one list of the modules of `scoring.plugins` that register: adding
a plugin is its module, its test and one line there.
"""

from collections.abc import Callable, Mapping
from importlib import import_module
from types import ModuleType
from typing import Any

from scoring.framework import Plugin, PluginModule

Factory = Callable[[dict[str, Any]], Plugin]

PACKAGE = "scoring.plugins"
IN_TREE = (
    "node_unschedulable",
    "node_name",
    "taint_toleration",
    "node_affinity",
    "node_ports",
    "node_resources_fit",
    "volume_restrictions",
    "node_volume_limits",
    "volume_binding",
    "volume_zone",
    "pod_topology_spread",
    "inter_pod_affinity",
    "node_resources_balanced_allocation",
    "image_locality",
    "interference_aware",
    "load_aware",
    "load_variation_risk_balancing",
    "target_load_packing",
)
"""The modules of `scoring.plugins` whose plugin is registered: kube-scheduler's in-tree ones in its order, then ours
and the load-aware peers the benchmark compares with."""


class DuplicatePluginError(ValueError):
    """Two plugins registered under one name."""


class UnknownPluginError(ValueError):
    """A profile names a plugin that is not registered."""


class PluginModuleError(TypeError):
    """A module listed in `IN_TREE` does not define `NAME` and `new` (see `scoring.framework.PluginModule`)."""


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        if name in self._factories:
            raise DuplicatePluginError(f"a plugin named {name!r} is already registered")
        self._factories[name] = factory

    def build(self, name: str, args: Mapping[str, Any] | None = None) -> Plugin:
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownPluginError(f"unknown plugin {name!r}; registered: {', '.join(sorted(self._factories))}")
        return factory(dict(args or {}))

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))


def plugin_module(module: ModuleType) -> PluginModule:
    """`module` as a plugin module, or PluginModuleError naming what it lacks."""
    missing = [attribute for attribute in ("NAME", "new") if attribute not in vars(module)]
    if missing:
        raise PluginModuleError(f"{module.__name__} is listed in scoring.registry.IN_TREE but defines no {missing}")
    return module


def in_tree() -> Registry:
    """The registry with every plugin this project ships."""
    registry = Registry()
    for name in IN_TREE:
        module = plugin_module(import_module(f"{PACKAGE}.{name}"))
        registry.register(module.NAME, module.new)
    return registry
