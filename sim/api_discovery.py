"""Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`.

kubectl and the kubernetes client find resources through these before any request; they are derived from the
resource table so that discovery can never advertise what the emulator does not serve. The emulator answers
the legacy (unaggregated) documents, which kubectl falls back to when the aggregated form is not offered.
Pure functions; the HTTP facade serves them.
"""

from typing import Any

from sim.api_resources import Resource, groups

__all__ = ["api_group", "api_group_list", "api_resource_list", "api_versions", "version_info"]

JSON = dict[str, Any]

_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "resize": ["get", "patch", "update"],
    "binding": ["create"],
    "eviction": ["create"],
    "log": ["get"],
}
_SUBRESOURCE_GROUPS = {"Eviction": {"group": "policy", "version": "v1"}}  # served under core, typed in policy/v1
_ALL = ("Pod", "Service", "ReplicationController", "ReplicaSet", "StatefulSet")  # `kubectl get all` (of these)


def version_info(git_version: str) -> JSON:
    """The `/version` answer (`kubectl version` and clients read `major`/`minor`/`gitVersion`)."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _entries(resource: Resource) -> list[JSON]:
    main: JSON = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.kind in _ALL:
        main["categories"] = ["all"]
    entries = [main]
    for sub, kind in resource.subresources.items():
        entry = {"name": f"{resource.plural}/{sub}", "singularName": "", "namespaced": resource.namespaced}
        entries.append(entry | _SUBRESOURCE_GROUPS.get(kind, {}) | {"kind": kind, "verbs": _SUBRESOURCE_VERBS[sub]})
    return entries


def api_resource_list(api_version: str) -> JSON | None:
    """`/api/v1` or `/apis/<group>/<version>`; None for a group/version not served."""
    resources = groups().get(api_version)
    if resources is None:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": [entry for r in resources for entry in _entries(r)],
    }


def _group(name: str) -> JSON:
    versions = [
        {"groupVersion": gv, "version": gv.split("/")[1]} for gv in groups() if gv.split("/")[0] == name and "/" in gv
    ]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> JSON:
    names = dict.fromkeys(gv.split("/")[0] for gv in groups() if "/" in gv)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(n) for n in names]}


def api_group(name: str) -> JSON | None:
    if not any(gv.startswith(name + "/") for gv in groups()):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1"} | _group(name)


def openapi_v3_index() -> JSON:
    """`/openapi/v3`: where each group/version's document is (kubectl's validation and apply look here)."""
    paths = {}
    for gv in groups():
        prefix = "api/" if "/" not in gv else "apis/"
        paths[prefix + gv] = {"serverRelativeURL": f"/openapi/v3/{prefix}{gv}?hash=0"}
    return {"paths": paths}


def openapi_v3(path: str) -> JSON | None:
    """A group/version's OpenAPI v3 document: its paths and the `fieldValidation` parameter, no schemas.

    kubectl sees that the server validates fields itself (so it sends `fieldValidation` instead of validating
    against schemas), and computes apply patches from its built-in types.
    """
    gv = path.removeprefix("apis/").removeprefix("api/")
    resources = groups().get(gv)
    if resources is None:
        return None
    base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
    param = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
    paths = {}
    for r in resources:
        collection = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}

        def op(action: str, gvk: JSON = gvk) -> JSON:
            return {"parameters": param, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}

        paths[collection] = {"post": op("post")}
        if "update" in r.verbs:
            paths[collection + "/{name}"] = {"put": op("put"), "patch": op("patch")}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }
