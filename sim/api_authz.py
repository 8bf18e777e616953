"""SelfSubjectAccessReview (`authorization.k8s.io/v1`): "may I do this?", answered from the deny rules.

The emulator authorizes like a cluster admin, except for the verbs a test or `--deny` refused
(`Faults.deny`). A review asks about one action — `resourceAttributes` (verb, group, resource, subresource,
namespace, name) or `nonResourceAttributes` (verb, path) — and the answer echoes the spec with
`status.allowed`, as `pkg/registry/authorization/selfsubjectaccessreview` does: 201 Created, nothing stored.
Validation follows `ValidateSelfSubjectAccessReviewSpec` (exactly one of the two attribute sets). Pure: the
HTTP facade passes the body and the rule lookup.
"""

from collections.abc import Callable
from typing import Any

from sim import api_errors

__all__ = ["review"]

JSON = dict[str, Any]
KIND = "SelfSubjectAccessReview"
GROUP = "authorization.k8s.io"

Denied = Callable[[str, str], str | None]
"""`Faults.denied`: the rule refusing a verb on a resource (`pods/binding`), or None."""


def review(body: Any, denied: Denied) -> tuple[int, JSON]:
    """Answer one review; raises 400 for a body that is not an object, 422 for an invalid spec."""
    if not isinstance(body, dict):
        raise api_errors.bad_request(f"the body of the request must be a {KIND} object")
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        why = 'Invalid value: "object": cannot be specified in combination with resourceAttributes'
        raise api_errors.invalid(KIND, "", "spec.nonResourceAttributes", why, GROUP)
    if resource is None and non_resource is None:
        why = 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified'
        raise api_errors.invalid(KIND, "", "spec.resourceAttributes", why, GROUP)
    attributes = resource if resource is not None else non_resource
    if not isinstance(attributes, dict):
        raise api_errors.bad_request("spec: the access review's attributes must be an object")
    verb = str(attributes.get("verb") or "")
    if resource is not None:
        target = str(attributes.get("resource") or "")
        if attributes.get("subresource"):
            target = f"{target}/{attributes['subresource']}"
    else:
        target = str(attributes.get("path") or "")
    rule = denied(verb, target)
    status: JSON = {"allowed": rule is None}
    if rule is not None:
        status["reason"] = f"emulator rule --deny {rule}"
    answer = {
        "kind": KIND,
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
    return 201, answer
