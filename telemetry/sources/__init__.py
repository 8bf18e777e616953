"""Where the scheduler's NodeStates come from (config `telemetry.source`): annotation, prometheus or file.

A source runs outside the decision path (an informer callback, a background poller, a file read) and
hands out the latest validated NodeState per node; the staleness rule (`nodestate.age_out`) is applied
by the reader at decision time, so a source that stops updating ages into "unknown" on its own.
"""

from collections.abc import Mapping
from typing import Protocol

from cluster.nodestate import NodeState


class Source(Protocol):
    """The latest validated NodeState per node name; a node missing from the map is unknown."""

    def start(self) -> None:
        """Begin collecting (a no-op for passive sources)."""
        ...

    def stop(self) -> None:
        """Stop background work; idempotent."""
        ...

    def states(self) -> Mapping[str, NodeState]:
        """A consistent copy of the latest states."""
        ...
