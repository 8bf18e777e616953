"""The Kubernetes API server emulator: what the real `kubernetes` client and kubectl talk to in tests and demos.

`Emulator` bundles the store, the HTTP facade, the built-in kubelet and fault injection behind a small API:

    with Emulator(objects=load_objects("cluster.yaml")) as emu:   # starts on 127.0.0.1, a free port
        emu.write_kubeconfig(tmp / "kubeconfig")                   # or point a client at emu.url
        emu.store.create("pods", {...})                            # in-process writes produce watch events
        emu.store.subscribe(on_change)                             # react to changes (e.g. pods being bound)
        emu.faults.fail_next(verb="create", resource="pods/binding", code=500)
        emu.faults.deny("create", "pods/binding")                  # 403, and access reviews answer no

Served: discovery, namespaces, nodes (+status), pods (+status, +binding, and the `bindings` collection; +eviction
checks PodDisruptionBudgets; +resize; +log says no logs are kept), core/v1 and events.k8s.io/v1 events (one
storage), coordination.k8s.io/v1 leases, persistentvolumeclaims and persistentvolumes (+status),
storage.k8s.io/v1 storageclasses, csinodes, csidrivers and csistoragecapacities, policy/v1 poddisruptionbudgets
(+status),
authorization.k8s.io/v1 selfsubjectaccessreviews (everything allowed but what `faults.deny` refuses); get, list,
watch, create, update, patch (merge, strategic merge, JSON patch), delete, deletecollection; label and field selectors;
resourceVersion semantics with a bounded history (410 `Expired` beyond it), bookmarks, `timeoutSeconds`,
pagination; `Table` output for kubectl. The store's resource names are the plurals (`pods`, `leases`,
`persistentvolumeclaims`, ...); its errors are `sim.api_errors.ApiError` with the real reasons and codes.
Controllers run beside the kubelet as kube-controller-manager would: the disruption controller keeps budgets'
status current (`sim.api_disruption`), the PV controller binds claims and volumes and, unless `provisioner` is
off, provisions volumes for claims of classes with a provisioner (`sim.api_volumes`).

From a shell: `python -m sim.apiserver --cluster FILE --port N [--deny create:pods/binding]
[--fail create:pods/binding:409:10] [--control-port 0]` prints the URL, the `KUBECONFIG=...` line and, with
`--control-port`, the `CONTROL=...` URL of the fault controls (`sim.api_control`: inject failures, reset the
store, drop watches while it runs), and serves until SIGINT/SIGTERM. `--scenario seed-001` (a name or a file
under `sim/scenarios/`) serves a scenario instead, with its node agents publishing telemetry (`sim.cluster`);
its arrivals are the benchmark's to create. It is independent of the product's model code (`cluster.clock` and
`cluster.signals` are its only imports from the project), so a bug there cannot hide itself here.
"""

import argparse
import json
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from cluster.clock import Clock, SystemClock
from cluster.signals import on_stop_signals
from sim import scenario
from sim.api_control import ControlServer
from sim.api_disruption import DisruptionController
from sim.api_http import ApiServer, ServerSettings
from sim.api_kubelet import Kubelet
from sim.api_volumes import VolumeController
from sim.faults import Faults
from sim.store import Store

__all__ = ["Emulator", "load_objects", "main"]

JSON = dict[str, Any]


def load_objects(path: str | Path) -> list[JSON]:
    """Objects from a `List` (JSON or YAML, as `kubectl get nodes,pods -A -o json` prints) or multi-doc YAML."""
    return _objects(_documents(path), path)


def _documents(path: str | Path) -> list[Any]:
    """The file's documents: JSON read as JSON (PyYAML takes minutes over the 26 MB of a 50,000-pod list, the json
    module a fraction of a second), anything else as YAML."""
    text = Path(path).read_text()
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        pass
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid JSON or YAML: {exc}") from exc


def _objects(documents: list[Any], path: str | Path) -> list[JSON]:
    objects: list[JSON] = []
    for doc in documents:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected Kubernetes objects, found a {type(doc).__name__}")
        if isinstance(doc.get("items"), list) and str(doc.get("kind", "List")).endswith("List"):
            item_kind = str(doc.get("kind", "List"))[: -len("List")]
            for item in doc["items"]:
                if item_kind and "kind" not in item:
                    objects.append({"kind": item_kind, "apiVersion": doc.get("apiVersion", "v1"), **item})
                else:
                    objects.append(item)
        else:
            objects.append(doc)
    for obj in objects:
        if not obj.get("kind") or not (obj.get("metadata") or {}).get("name"):
            raise ValueError(f"{path}: every object needs a kind and metadata.name, got {json.dumps(obj)[:120]}")
    return objects


class Emulator:
    """An emulated cluster: store + HTTP facade + kubelet + faults (see the module docstring)."""

    def __init__(
        self,
        objects: Iterable[JSON] = (),
        *,
        clock: Clock | None = None,
        history: int = 10_000,
        kubelet: bool = True,
        kubelet_delay: float = 0.0,
        provisioner: bool = True,
        watch_capacity: int = 10_000,
        watch_timeout: float = 1800.0,
        bookmark_interval: float = 60.0,
        fresh_timeout: float = 3.0,
        version: str = "v1.32.0",
    ) -> None:
        """`history`: events kept for watch resumption; `watch_capacity`: events a slow watcher may lag;
        `provisioner`: whether claims of a class with a provisioner get volumes created for them."""
        self.clock = clock or SystemClock()
        self.store = Store(clock=self.clock, history=history, watch_capacity=watch_capacity)
        self.store.load(objects)
        self.faults = Faults(self.store, self.clock)
        self.kubelet = Kubelet(self.store, clock=self.clock, delay=kubelet_delay) if kubelet else None
        self.controllers = (
            DisruptionController(self.store, clock=self.clock),
            VolumeController(self.store, clock=self.clock, provision=provisioner),
        )
        self.settings = ServerSettings(
            git_version=version,
            watch_timeout=watch_timeout,
            bookmark_interval=bookmark_interval,
            fresh_timeout=fresh_timeout,
        )
        self._server: ApiServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of the running server."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://{self._server.address}"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0 picks a free port) in a background thread; returns the URL."""
        if self._server is not None:
            return self.url
        self._server = ApiServer(
            (host, port), store=self.store, faults=self.faults, clock=self.clock, settings=self.settings
        )
        if self.kubelet is not None:
            self.kubelet.start()
        for controller in self.controllers:
            controller.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-apiserver", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving: end watches, cut connections, stop the kubelet. The store keeps its objects."""
        if self._server is None:
            return
        self.store.drop_watches("stopped")
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self.kubelet is not None:
            self.kubelet.stop()
        for controller in self.controllers:
            controller.stop()
        self._server = None
        self._thread = None

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path, *, context: str = "sim") -> Path:
        """Write a kubeconfig whose current context points at this emulator; returns its path."""
        path = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
            "current-context": context,
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


def main(argv: list[str] | None = None) -> int:
    """`python -m sim.apiserver --cluster FILE | --scenario NAME --port N`: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m sim.apiserver", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--cluster", help="a List or multi-document YAML of Nodes, Pods, ... to start with")
    source.add_argument(
        "--scenario",
        help=f"a scenario to serve, with its telemetry: a file or a built-in name ({', '.join(scenario.builtin())})",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", help="where to write the kubeconfig (default: a temporary file)")
    parser.add_argument("--history", type=int, default=10_000, help="watch events kept for resumption")
    parser.add_argument("--kubelet-delay", type=float, default=0.0, help="seconds from bind to Running")
    parser.add_argument("--no-kubelet", action="store_true", help="leave bound pods Pending")
    parser.add_argument(
        "--no-provisioner", action="store_true", help="create no volumes for claims (pre-provisioned volumes only)"
    )
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="VERB:RESOURCE",
        help="refuse a verb as RBAC would (403, and access reviews say no), e.g. create:pods/binding; repeatable",
    )
    parser.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="VERB:RESOURCE:CODE[:COUNT]",
        help="answer the next COUNT (default 1) matching requests with CODE, e.g. create:pods/binding:409:10",
    )
    parser.add_argument(
        "--control-port", type=int, help="serve the fault controls on 127.0.0.1:PORT (0 picks a free port)"
    )
    parser.add_argument(
        "--fresh-timeout", type=float, default=3.0, help="seconds a watch from a future resourceVersion waits"
    )
    args = parser.parse_args(argv)
    world = None
    try:
        if args.scenario:
            from sim.cluster import SimCluster  # noqa: PLC0415 - it builds on this module

            world = SimCluster(
                scenario.load(args.scenario),
                history=args.history,
                kubelet=not args.no_kubelet,
                kubelet_delay=args.kubelet_delay,
            )
            emulator = world.emulator
        else:
            objects = _cluster_objects(args.cluster) if args.cluster else []
            emulator = Emulator(
                objects,
                history=args.history,
                kubelet=not args.no_kubelet,
                kubelet_delay=args.kubelet_delay,
                provisioner=not args.no_provisioner,
                fresh_timeout=args.fresh_timeout,
            )
        for rule in args.deny:
            verb, _, resource = rule.partition(":")
            if not verb or not resource:
                raise ValueError(f"--deny {rule!r}: expected VERB:RESOURCE, e.g. create:pods/binding")
            emulator.faults.deny(verb, resource)
        for rule in args.fail:
            emulator.faults.fail_next(**_failure(rule))
        control = None if args.control_port is None else ControlServer(emulator.faults, port=args.control_port)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()  # handled before the URL is printed: whoever reads it may stop us at once
    on_stop_signals(stop.set)
    url = world.start(args.host, args.port) if world is not None else emulator.start(args.host, args.port)
    kubeconfig = args.kubeconfig or str(Path(tempfile.mkdtemp(prefix="sim-apiserver-")) / "kubeconfig")
    emulator.write_kubeconfig(kubeconfig)
    print(f"API server emulator listening on {url}", flush=True)
    print(f"KUBECONFIG={kubeconfig}", flush=True)
    if control is not None:
        print(f"CONTROL={control.start().url}", flush=True)
    if world is not None:
        served = world.scenario
        print(
            f"scenario {served.name}: {len(served.nodes)} nodes, {len(served.pods)} pods running, "
            f"node telemetry published; its {len(served.arrivals)} arrivals are not created",
            flush=True,
        )
    stop.wait()
    if control is not None:
        control.stop()
    (world or emulator).stop()
    return 0


def _cluster_objects(path: str) -> list[JSON]:
    """`--cluster`'s objects; a scenario file is pointed at `--scenario` rather than refused for lacking kinds."""
    documents = _documents(path)
    top = documents[0] if documents else None
    if isinstance(top, dict) and "kind" not in top and "nodes" in top:
        raise ValueError(f"{path} is a scenario, not a list of Kubernetes objects: serve it with --scenario {path}")
    return _objects(documents, path)


def _failure(rule: str) -> dict[str, Any]:
    """`--fail VERB:RESOURCE:CODE[:COUNT]` as `Faults.fail_next`'s arguments; ValueError saying what is wrong."""
    parts = rule.split(":")
    if len(parts) not in (3, 4) or not all(p.isdigit() for p in parts[2:]):
        raise ValueError(f"--fail {rule!r}: expected VERB:RESOURCE:CODE[:COUNT], e.g. create:pods/binding:409:10")
    verb, resource = parts[0] or None, parts[1] or None
    return {"verb": verb, "resource": resource, "code": int(parts[2]), "count": int(parts[3]) if parts[3:] else 1}


if __name__ == "__main__":
    sys.exit(main())
