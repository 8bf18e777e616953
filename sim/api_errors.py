"""API errors of the emulator, rendered as the `Status` objects a real kube-apiserver answers with.

Everything below the HTTP facade (store, selectors, patches, faults) raises `ApiError`; the facade turns it
into a response. Reasons, codes and message texts follow `k8s.io/apimachinery/pkg/api/errors` so that clients
(and their error handling) cannot tell the emulator from the real server. Nothing here does I/O.
"""

from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "internal_error",
    "invalid",
    "method_not_allowed",
    "not_found",
    "path_not_found",
    "status_error",
    "success",
    "too_large_resource_version",
    "unsupported_media_type",
]

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A request the API refuses: carries the HTTP code, the machine-readable reason and the message."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The `Status` object the real server sends for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def success(code: int = 200) -> dict[str, Any]:
    """The `Status` a successful subresource create (e.g. a binding) answers with."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, resource: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return details


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', _details(name, resource, group)
    )


def path_not_found() -> ApiError:
    """An unknown URL, resource or subresource: the real server's generic 404."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    message = f'{_qualified(resource, group)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(name, resource, group))


def conflict(resource: str, name: str, why: str, group: str = "") -> ApiError:
    message = f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(name, resource, group))


def stale(resource: str, name: str, group: str = "") -> ApiError:
    """The optimistic-concurrency conflict of an update carrying an outdated resourceVersion."""
    why = "the object has been modified; please apply your changes to the latest version and try again"
    return conflict(resource, name, why, group)


def forbidden(
    verb: str,
    resource: str,
    *,
    subresource: str = "",
    group: str = "",
    namespace: str | None = None,
    name: str = "",
    user: str = "system:anonymous",
) -> ApiError:
    """An authorizer's refusal, worded as `responsewriters.Forbidden` and `errors.NewForbidden` word it."""
    path = f"{resource}/{subresource}" if subresource else resource
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    why = f'User "{user}" cannot {verb} resource "{path}" in API group "{group}" {scope}'
    qualified = _qualified(resource, group)
    message = f'{qualified} "{name}" is forbidden: {why}' if name else f"{qualified} is forbidden: {why}"
    details = _details(name, resource, group)
    if not name:
        del details["name"]  # omitempty
    return ApiError(403, "Forbidden", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def section(body: Any, field: str) -> dict[str, Any]:
    """`body[field]` when it is an object, {} when absent or null; a 400 naming the field otherwise (a request's
    `preconditions` or `deleteOptions` written as a string)."""
    value = body.get(field) if isinstance(body, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"{field} must be a JSON object")
    return value


def invalid(kind: str, name: str, field: str, why: str, group: str = "") -> ApiError:
    """A 422 for an object that fails validation, e.g. a forbidden pod spec update."""
    message = f'{kind}{"." + group if group else ""} "{name}" is invalid: {field}: {why}'
    details = _details(name, kind, group)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": why, "field": field}]
    return ApiError(422, "Invalid", message, details)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large_resource_version(asked: int, current: int) -> ApiError:
    message = f"Too large resource version: {asked}, current: {current}"
    details = {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]}
    return ApiError(504, "Timeout", message, details)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def unsupported_media_type(content_type: str) -> ApiError:
    message = (
        f"the body of the request was in an unknown format - accepted media types include: application/json, "
        f"application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json "
        f"(got {content_type!r})"
    )
    return ApiError(415, "UnsupportedMediaType", message, {})


def internal_error(why: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {why}", {"causes": [{"message": why}]})


def status_error(code: int, message: str | None = None) -> ApiError:
    """An error for an arbitrary HTTP code (fault injection), with the real server's reason and wording."""
    reason = REASONS.get(code, "Unknown" if code >= 400 else "")
    defaults = {
        429: "Too many requests, please try again later.",
        500: "Internal error occurred: injected fault",
        503: "the server is currently unable to handle the request",
        504: "the server was unable to return a response in the time allotted, but may still be processing",
    }
    text = message or defaults.get(code, f"injected fault ({code})")
    details: dict[str, Any] | None = {"retryAfterSeconds": 1} if code == 429 else None
    return ApiError(code, reason, text, details)
