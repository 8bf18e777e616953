"""URL routing of the emulated API: a request path and method to a resource, namespace, name and verb.

Follows `k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory`: `/api/v1/...` and `/apis/<g>/<v>/...`,
an optional legacy `watch/` segment, `namespaces/<ns>/<resource>[/<name>[/<subresource>]]`, and the verbs
get, list, watch, create, update, patch, delete, deletecollection. Pure; unknown paths and methods become the
real server's 404 and 405 `Status` errors.
"""

from dataclasses import dataclass
from urllib.parse import unquote

from sim import api_errors
from sim.api_resources import Resource, find

__all__ = ["Route", "parse_route"]

_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class Route:
    """What a resource request addresses."""

    resource: Resource
    verb: str
    namespace: str | None = None
    name: str = ""
    subresource: str = ""

    @property
    def fault_key(self) -> str:
        """The resource as fault rules name it: `pods`, `pods/binding`, `leases`."""
        return f"{self.resource.plural}/{self.subresource}" if self.subresource else self.resource.plural


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def parse_route(method: str, path: str, query: dict[str, str]) -> Route:
    """Route a resource path; raises a 404 for anything the emulator does not serve, 405 for a wrong method."""
    parts = [unquote(p) if "%" in p else p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        api_version, rest = parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        raise api_errors.path_not_found()
    watch = _truthy(query.get("watch"))
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise api_errors.path_not_found()
    resource = find(api_version, rest[0])
    if resource is None or (namespace is not None and not resource.namespaced):
        raise api_errors.path_not_found()
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in resource.subresources:
        raise api_errors.path_not_found()
    verb = _verb(method, bool(name), watch)
    if verb == "create" and name and not subresource:
        raise api_errors.method_not_allowed()
    if verb in ("update", "patch", "delete") and not name:
        raise api_errors.method_not_allowed()
    if subresource in ("binding", "eviction") and verb != "create":
        raise api_errors.method_not_allowed()
    if subresource == "log" and verb != "get":
        raise api_errors.method_not_allowed()
    if subresource in ("status", "resize") and verb not in ("get", "update", "patch"):
        raise api_errors.method_not_allowed()
    if verb not in resource.verbs and not subresource:
        raise api_errors.method_not_allowed()
    if resource.namespaced and namespace is None and verb not in ("list", "watch"):
        raise api_errors.path_not_found()
    return Route(resource, verb, namespace, name, subresource)


def _verb(method: str, named: bool, watch: bool) -> str:
    if method == "GET":
        if watch:
            return "watch"
        return "get" if named else "list"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    if method in _METHOD_VERBS:
        return _METHOD_VERBS[method]
    raise api_errors.method_not_allowed()
