"""Plugins by name: a name → factory map where a duplicate name is an error.

As kube-scheduler's `runtime.Registry`: the runtime builds the enabled plugins from here, and a
profile that names an unknown plugin is refused at start rather than at the first pod.
"""

from collections.abc import Callable, Mapping
from typing import Any

from scoring.plugins import (
    image_locality,
    inter_pod_affinity,
    interference_aware,
    load_aware,
    node_affinity,
    node_name,
    node_ports,
    node_resources_balanced_allocation,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    taint_toleration,
    trimaran,
)

Factory = Callable[[Mapping[str, Any]], Any]


class DuplicatePluginError(ValueError):
    """Two plugins registered under one name."""


class UnknownPluginError(ValueError):
    """A profile names a plugin that is not registered."""


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        if name in self._factories:
            raise DuplicatePluginError(f"a plugin named {name!r} is already registered")
        self._factories[name] = factory

    def build(self, name: str, args: Mapping[str, Any] | None = None) -> Any:
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownPluginError(f"unknown plugin {name!r}; registered: {', '.join(sorted(self._factories))}")
        return factory(dict(args or {}))

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))


def in_tree() -> Registry:
    """The registry with every plugin this project ships."""
    registry = Registry()
    for module in (
        node_unschedulable,
        node_name,
        taint_toleration,
        node_affinity,
        node_ports,
        node_resources_fit,
        pod_topology_spread,
        inter_pod_affinity,
        node_resources_balanced_allocation,
        image_locality,
        interference_aware,
        load_aware,
    ):
        registry.register(module.NAME, module.new)
    registry.register(trimaran.LVRB, trimaran.new_lvrb)
    registry.register(trimaran.TLP, trimaran.new_tlp)
    return registry
