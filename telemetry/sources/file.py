"""The scheduler's `file` telemetry source: NodeStates from a JSON file keyed by node name, for offline use.

The file is `{"worker-1": {<NodeState>}, "worker-2": {...}}`. It is re-read when its modification time,
size or inode change (a cheap stat per `states` call), so a tool can rewrite it while the scheduler
runs; a file caught half-written keeps the previous states. Every state passes
`cluster.nodestate.parse`; staleness is the reader's business, as for every source. Never writes.
"""

import json
import logging
import os
import threading
from collections.abc import Mapping
from types import MappingProxyType

from cluster.nodestate import NodeState, parse

log = logging.getLogger(__name__)


class FileSource:
    """The `Source` protocol over one JSON file."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._states: dict[str, NodeState] = {}
        self._problem: str | None = None

    def start(self) -> None:
        self.refresh()

    def stop(self) -> None:
        return None

    def states(self) -> Mapping[str, NodeState]:
        self.refresh()
        with self._lock:
            return MappingProxyType(dict(self._states))

    def refresh(self) -> bool:
        """Re-read the file if it changed; True when new states were loaded."""
        with self._lock:
            try:
                info = os.stat(self._path)
                signature = (info.st_mtime_ns, info.st_size, info.st_ino)
                if signature == self._signature:
                    return False
                self._signature = signature  # a broken file is read again only once it changes
                with open(self._path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except FileNotFoundError:
                self._report(f"telemetry file {self._path} does not exist; all nodes unknown until it does")
                self._signature, self._states = None, {}
                return False
            except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested past the stack
                self._report(f"telemetry file {self._path} is unreadable ({exc}); keeping the previous states")
                return False
            if not isinstance(data, Mapping):
                self._report(
                    f"telemetry file {self._path} is not a JSON object keyed by node name; keeping the previous states"
                )
                return False
            self._states = {str(node): parse(raw, node=str(node), warn=log.warning) for node, raw in data.items()}
            self._problem = None
            return True

    def _report(self, problem: str) -> None:
        """Log a problem once until the file is readable again."""
        if problem != self._problem:
            log.warning("%s", problem)
        self._problem = problem
