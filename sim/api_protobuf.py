"""Just enough of the Kubernetes protobuf encoding to read a SelfSubjectAccessReview.

The emulator speaks JSON, but client-go's typed clients (`kubectl auth can-i` among them) send built-in
kinds as `application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a `runtime.Unknown` whose field 2
holds the object's bytes (`k8s.io/apimachinery/pkg/runtime/serializer/protobuf`). This decodes that one kind
into its JSON form, with the field numbers of `k8s.io/api/authorization/v1/generated.proto`; the answer goes
back as JSON, which those clients accept. Pure; malformed input is a 400.
"""

from typing import Any

from sim import api_errors

__all__ = ["MEDIA_TYPE", "is_protobuf", "self_subject_access_review"]

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_RESOURCE_ATTRIBUTES = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";", maxsplit=1)[0].strip().lower() == MEDIA_TYPE


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise api_errors.bad_request("the protobuf body is truncated")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of one message by number (the last wins); other wire types are skipped."""
    out: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise api_errors.bad_request("the protobuf body is truncated")
            out[number] = data[at : at + length]
            at += length
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise api_errors.bad_request(f"the protobuf body has an unsupported wire type {wire}")
    return out


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    """The non-empty string fields of a message, under their JSON names."""
    found = _fields(data)
    return {name: found[n].decode() for n, name in names.items() if found.get(n)}


def self_subject_access_review(raw: bytes) -> dict[str, Any]:
    """A protobuf-encoded SelfSubjectAccessReview as its JSON form (metadata and status dropped)."""
    if not raw.startswith(MAGIC):
        raise api_errors.bad_request("the protobuf body does not start with the k8s magic prefix")
    try:
        unknown = _fields(raw[len(MAGIC) :])
        type_meta = _strings(unknown.get(1, b""), {1: "apiVersion", 2: "kind"})
        spec = _fields(_fields(unknown.get(2, b"")).get(2, b""))
        decoded: dict[str, Any] = {}
        if 1 in spec:
            decoded["resourceAttributes"] = _strings(spec[1], _RESOURCE_ATTRIBUTES)
        if 2 in spec:
            decoded["nonResourceAttributes"] = _strings(spec[2], _NON_RESOURCE_ATTRIBUTES)
    except UnicodeDecodeError:
        raise api_errors.bad_request("the protobuf body holds a string that is not UTF-8") from None
    if type_meta.get("kind") != "SelfSubjectAccessReview":
        raise api_errors.bad_request(f"expected a SelfSubjectAccessReview, got {type_meta.get('kind')!r}")
    return {**type_meta, "spec": decoded}
