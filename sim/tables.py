"""Server-side printing: `meta.k8s.io/v1` `Table` responses for `kubectl get`.

kubectl asks for tables in its `Accept` header and prints the server's columns and cells as they come, so the
columns and cell texts here follow `pkg/printers/internalversion/printers.go` (the server always renders the
wide columns; kubectl hides those with priority 1 unless `-o wide`). Pure functions of the stored objects
and the current time; the HTTP facade decides when to answer with a table.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["human_duration", "table"]

JSON = dict[str, Any]


def _column(name: str, description: str, *, priority: int = 0, fmt: str = "", kind: str = "string") -> JSON:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


_NAME = _column("Name", "Name must be unique within a namespace.", fmt="name")
_AGE = _column("Age", "CreationTimestamp is a timestamp representing the server time when this object was created.")

_REPLICAS = [  # printers.go's replicaSetColumnDefinitions, which replication controllers share
    _NAME,
    _column("Desired", "Number of desired pods", kind="integer"),
    _column("Current", "Number of actual pods", kind="integer"),
    _column("Ready", "Number of ready pods", kind="integer"),
    _AGE,
    _column("Containers", "Names of each container in the template.", priority=1),
    _column("Images", "Images referenced by each container in the template.", priority=1),
    _column("Selector", "Label selector for pods. Must match the template's labels.", priority=1),
]

COLUMNS: dict[str, list[JSON]] = {
    "Pod": [
        _NAME,
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column("Restarts", "The number of times the containers in this pod have been restarted."),
        _AGE,
        _column("IP", "IP address allocated to the pod.", priority=1),
        _column("Node", "Name of the node this pod runs on.", priority=1),
        _column("Nominated Node", "Name of the node the pod is nominated to.", priority=1),
        _column("Readiness Gates", "Pod readiness gates.", priority=1),
    ],
    "Node": [
        _NAME,
        _column("Status", "The status of the node"),
        _column("Roles", "The roles of the node"),
        _AGE,
        _column("Version", "Kubelet Version reported by the node."),
        _column("Internal-IP", "List of addresses reachable to the node.", priority=1),
        _column("External-IP", "List of addresses reachable to the node.", priority=1),
        _column("OS-Image", "OS Image reported by the node.", priority=1),
        _column("Kernel-Version", "Kernel Version reported by the node.", priority=1),
        _column("Container-Runtime", "ContainerRuntime Version reported by the node.", priority=1),
    ],
    "Namespace": [_NAME, _column("Status", "The status of the namespace"), _AGE],
    "Service": [
        _NAME,
        _column("Type", "The type of the service."),
        _column("Cluster-IP", "The IP address of the service."),
        _column("External-IP", "The external IP address of the service."),
        _column("Port(s)", "The ports of the service."),
        _AGE,
        _column("Selector", "The selector of the service.", priority=1),
    ],
    "ReplicationController": _REPLICAS,
    "ReplicaSet": _REPLICAS,
    "StatefulSet": [
        _NAME,
        _column("Ready", "Number of the pod with ready state"),
        _AGE,
        _column("Containers", "Names of each container in the template.", priority=1),
        _column("Images", "Images referenced by each container in the template.", priority=1),
    ],
    "Lease": [_NAME, _column("Holder", "holderIdentity contains the identity of the holder of a current lease."), _AGE],
    "PersistentVolumeClaim": [
        _NAME,
        _column("Status", "Phase represents the current phase of PersistentVolumeClaim."),
        _column("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
        _column("Capacity", "capacity represents the actual resources of the underlying volume."),
        _column("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."),
        _column("StorageClass", "StorageClass of the pvc"),
        _column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
        _AGE,
        _column("VolumeMode", "volumeMode defines what type of volume is required by the claim.", priority=1),
    ],
    "PersistentVolume": [
        _NAME,
        _column("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
        _column("Access Modes", "accessModes contains all ways the volume can be mounted."),
        _column("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume."),
        _column("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
        _column("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and Claim."),
        _column("StorageClass", "StorageClass of the pv"),
        _column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
        _column("Reason", "reason is a brief CamelCase string that describes any failure."),
        _AGE,
        _column(
            "VolumeMode",
            "volumeMode defines if a volume is intended to be used with a formatted filesystem.",
            priority=1,
        ),
    ],
    "StorageClass": [
        _NAME,
        _column("Provisioner", "provisioner indicates the type of the provisioner."),
        _column("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned volumes."),
        _column("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be bound."),
        _column("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow volume expand."),
        _AGE,
    ],
    "CSINode": [
        _NAME,
        _column("Drivers", "Drivers indicates the number of CSI drivers registered on the node", kind="integer"),
        _AGE,
    ],
    "CSIDriver": [
        _NAME,
        _column(
            "AttachRequired",
            "attachRequired indicates this CSI volume driver requires an attach operation.",
            kind="boolean",
        ),
        _column(
            "PodInfoOnMount",
            "podInfoOnMount indicates this CSI volume driver requires additional pod "
            "information during mount operations.",
            kind="boolean",
        ),
        _column(
            "StorageCapacity",
            "storageCapacity indicates that the CSI volume driver wants pod scheduling to "
            "consider the storage capacity that the driver deployment will report.",
            kind="boolean",
        ),
        _column("TokenRequests", "tokenRequests indicates the CSI driver needs pods' service account tokens."),
        _column(
            "RequiresRepublish",
            "requiresRepublish indicates the CSI driver wants NodePublishVolume being periodically called.",
            kind="boolean",
        ),
        _column("Modes", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
        _AGE,
    ],
    "CSIStorageCapacity": [
        _NAME,
        _column(
            "StorageClassName",
            "storageClassName represents the name of the StorageClass that the reported capacity applies to.",
        ),
        _column("Capacity", "capacity is the value reported by the CSI driver in its GetCapacityResponse."),
    ],
    "PodDisruptionBudget": [
        _NAME,
        _column("Min Available", "The minimum number of pods that must be available simultaneously."),
        _column("Max Unavailable", "The maximum number of pods that may be unavailable simultaneously."),
        _column("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.", kind="integer"),
        _AGE,
    ],
    "Event": [
        _column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
        _column("Type", "Type of this event (Normal, Warning)."),
        _column("Reason", "This should be a short, machine understandable string."),
        _column("Object", "The object that this event is about."),
        _column("Subobject", "The field of the object this event is about.", priority=1),
        _column("Source", "The component reporting this event.", priority=1),
        _column("Message", "A human-readable description of the status of this operation."),
        _column("First Seen", "The time at which the event was first recorded.", priority=1),
        _column("Count", "The number of times this event has occurred.", priority=1),
        _column("Name", "Name must be unique within a namespace.", priority=1, fmt="name"),
    ],
}


def human_duration(seconds: float) -> str:
    """`k8s.io/apimachinery/pkg/util/duration.HumanDuration`: 45s, 3m20s, 5h10m, 2d3h, 1y20d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _since(timestamp: Any, now: float) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "<unknown>"
    return human_duration(now - then)


def _pod_cells(pod: JSON, now: float) -> list[Any]:
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod["metadata"]
    reason = status.get("reason") or status.get("phase") or ""
    if any(
        c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in status.get("conditions") or []
    ):
        reason = "SchedulingGated"
    restarts = ready = 0
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, container in enumerate(init_statuses):
        restarts += int(container.get("restartCount") or 0)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        initializing = True
        if terminated:
            reason = (
                "Init:" + terminated["reason"]
                if terminated.get("reason")
                else f"Init:ExitCode:{terminated['exitCode']}"
            )
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if not initializing or conditions.get("Initialized") == "True":
        restarts, running = 0, False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount") or 0)
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
            elif container.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if "Ready" in conditions else "NotReady"
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_cell = f"{passed}/{len(gates)}"
    return [
        meta["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        str(restarts),
        _since(meta.get("creationTimestamp"), now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


def _node_cells(node: JSON, now: float) -> list[Any]:
    spec, status, meta = node.get("spec") or {}, node.get("status") or {}, node["metadata"]
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/") :]:
            roles.add(key[len("node-role.kubernetes.io/") :])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), None) or "<none>"

    return [
        meta["name"],
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _since(meta.get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_cells(event: JSON, now: float) -> list[Any]:
    first = (
        _since(event.get("firstTimestamp"), now) if event.get("firstTimestamp") else _since(event.get("eventTime"), now)
    )
    last = _since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    series = event.get("series")
    if series:
        last, count = _since(series.get("lastObservedTime"), now), series.get("count") or 0
    elif count == 0:
        count = 1
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(event.get("message") or "").strip(),
        first,
        str(count),
        event["metadata"]["name"],
    ]


def _namespace_cells(ns: JSON, now: float) -> list[Any]:
    phase = (ns.get("status") or {}).get("phase", "")
    return [ns["metadata"]["name"], phase, _since(ns["metadata"].get("creationTimestamp"), now)]


def _lease_cells(lease: JSON, now: float) -> list[Any]:
    holder = (lease.get("spec") or {}).get("holderIdentity") or ""
    return [lease["metadata"]["name"], holder, _since(lease["metadata"].get("creationTimestamp"), now)]


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access_modes(modes: Any) -> str:
    """`helper.GetAccessModesAsString`: the short names in a fixed order, each once."""
    present = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES.items() if mode in present)


def _phase(obj: JSON) -> str:
    return "Terminating" if obj["metadata"].get("deletionTimestamp") else (obj.get("status") or {}).get("phase", "")


def _storage_class(meta: JSON, spec: JSON) -> str:
    """`helper.GetPersistentVolume{,Claim}Class`: the beta annotation wins over `spec.storageClassName`."""
    return (
        (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
        or spec.get("storageClassName")
        or ""
    )


def _pvc_cells(pvc: JSON, now: float) -> list[Any]:
    spec, status, meta = pvc.get("spec") or {}, pvc.get("status") or {}, pvc["metadata"]
    capacity = modes = ""
    if spec.get("volumeName"):
        capacity = str((status.get("capacity") or {}).get("storage", ""))
        modes = _access_modes(status.get("accessModes"))
    return [
        meta["name"],
        _phase(pvc),
        spec.get("volumeName", ""),
        capacity,
        modes,
        _storage_class(meta, spec),
        spec.get("volumeAttributesClassName") or "<unset>",
        _since(meta.get("creationTimestamp"), now),
        spec.get("volumeMode") or "<unset>",
    ]


def _pv_cells(pv: JSON, now: float) -> list[Any]:
    spec, status, meta = pv.get("spec") or {}, pv.get("status") or {}, pv["metadata"]
    claim = spec.get("claimRef") or {}
    return [
        meta["name"],
        str((spec.get("capacity") or {}).get("storage", "")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        _phase(pv),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        _storage_class(meta, spec),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _since(meta.get("creationTimestamp"), now),
        spec.get("volumeMode") or "<unset>",
    ]


def _storage_class_cells(sc: JSON, now: float) -> list[Any]:
    meta = sc["metadata"]
    default = (meta.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    return [
        meta["name"] + (" (default)" if default else ""),
        sc.get("provisioner", ""),
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        "true" if sc.get("allowVolumeExpansion") else "false",
        _since(meta.get("creationTimestamp"), now),
    ]


def _csinode_cells(csinode: JSON, now: float) -> list[Any]:
    drivers = (csinode.get("spec") or {}).get("drivers") or []
    return [csinode["metadata"]["name"], len(drivers), _since(csinode["metadata"].get("creationTimestamp"), now)]


def _csidriver_cells(driver: JSON, now: float) -> list[Any]:
    """`printCSIDriver`, with the API server's defaults for fields the object leaves out."""
    spec = driver.get("spec") or {}
    audiences = [t.get("audience") or "" for t in spec.get("tokenRequests") or []]
    return [
        driver["metadata"]["name"],
        spec.get("attachRequired", True),
        spec.get("podInfoOnMount", False),
        spec.get("storageCapacity", False),
        ",".join(audiences) if audiences else "<unset>",
        spec.get("requiresRepublish", False),
        ",".join(spec.get("volumeLifecycleModes") or ["Persistent"]),
        _since(driver["metadata"].get("creationTimestamp"), now),
    ]


def _csi_storage_capacity_cells(capacity: JSON, now: float) -> list[Any]:
    return [capacity["metadata"]["name"], capacity.get("storageClassName", ""), capacity.get("capacity") or "<unset>"]


def _pdb_cells(pdb: JSON, now: float) -> list[Any]:
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    return [
        pdb["metadata"]["name"],
        str(spec["minAvailable"]) if spec.get("minAvailable") is not None else "N/A",
        str(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else "N/A",
        int(status.get("disruptionsAllowed") or 0),
        _since(pdb["metadata"].get("creationTimestamp"), now),
    ]


def _label_set(labels: Any) -> str:
    """`labels.FormatLabels`: `k=v` pairs sorted by key, `<none>` when empty."""
    pairs = sorted((labels or {}).items())
    return ",".join(f"{k}={v}" for k, v in pairs) or "<none>"


def _label_selector(selector: Any) -> str:
    """`metav1.LabelSelectorAsSelector(...).String()`: requirements sorted by key; `<none>` for nil, empty for all."""
    if not isinstance(selector, dict):
        return "<none>"
    parts = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "DoesNotExist": f"!{key}"}
        parts.append((key, text.get(operator, key)))
    return ",".join(text for _, text in sorted(parts))


def _ports(ports: Any) -> str:
    """`makePortString`: `port[:nodePort]/protocol` each, `<none>` without ports."""
    out = []
    for port in ports or []:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        out.append(f"{port.get('port')}{node_port}/{port.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(spec: JSON, status: JSON) -> str:
    """`getServiceExternalIP` (not wide): the external IPs, a load balancer's ingress or `<pending>`, the
    external name."""
    kind, external = spec.get("type") or "ClusterIP", list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        addresses = [a for a in ingress if a] + external
        return ",".join(addresses) or "<pending>"
    return ",".join(external) or "<none>"


def _service_cells(service: JSON, now: float) -> list[Any]:
    spec, status, meta = service.get("spec") or {}, service.get("status") or {}, service["metadata"]
    return [
        meta["name"],
        spec.get("type") or "ClusterIP",
        spec.get("clusterIP") or "<none>",
        _external_ip(spec, status),
        _ports(spec.get("ports")),
        _since(meta.get("creationTimestamp"), now),
        _label_set(spec.get("selector")),
    ]


def _template(spec: JSON) -> tuple[str, str]:
    """The template's container names and images, comma-joined (`layoutContainerCells`)."""
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers)


def _replica_cells(selector: Callable[[Any], str]) -> Callable[[JSON, float], list[Any]]:
    """A ReplicaSet's or ReplicationController's row, its selector shown by `selector` (a label selector, a map)."""

    def cells(controller: JSON, now: float) -> list[Any]:
        spec, status, meta = controller.get("spec") or {}, controller.get("status") or {}, controller["metadata"]
        return [
            meta["name"],
            int(spec.get("replicas") or 0),
            int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0),
            _since(meta.get("creationTimestamp"), now),
            *_template(spec),
            selector(spec.get("selector")),
        ]

    return cells


def _stateful_set_cells(sts: JSON, now: float) -> list[Any]:
    spec, status, meta = sts.get("spec") or {}, sts.get("status") or {}, sts["metadata"]
    ready = f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas') or 0)}"
    return [meta["name"], ready, _since(meta.get("creationTimestamp"), now), *_template(spec)]


_CELLS: dict[str, Callable[[JSON, float], list[Any]]] = {
    "Service": _service_cells,
    "ReplicationController": _replica_cells(_label_set),
    "ReplicaSet": _replica_cells(_label_selector),
    "StatefulSet": _stateful_set_cells,
    "PersistentVolumeClaim": _pvc_cells,
    "PersistentVolume": _pv_cells,
    "StorageClass": _storage_class_cells,
    "CSINode": _csinode_cells,
    "CSIDriver": _csidriver_cells,
    "CSIStorageCapacity": _csi_storage_capacity_cells,
    "PodDisruptionBudget": _pdb_cells,
    "Pod": _pod_cells,
    "Node": _node_cells,
    "Event": _event_cells,
    "Namespace": _namespace_cells,
    "Lease": _lease_cells,
}


def table(
    kind: str,
    objects: list[JSON],
    *,
    now: float,
    resource_version: str = "",
    continue_token: str = "",
    include_object: str = "Metadata",
    wire: Callable[[JSON], JSON] | None = None,
) -> JSON:
    """A `Table` of stored objects of `kind`; `include_object` is the request's `None`/`Metadata`/`Object`."""
    cells = _CELLS[kind]
    rows = []
    for obj in objects:
        row: JSON = {"cells": cells(obj, now)}
        if include_object == "Object":
            row["object"] = wire(obj) if wire else obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    metadata: JSON = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": COLUMNS[kind],
        "rows": rows,
    }
