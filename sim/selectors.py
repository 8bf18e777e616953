"""Label and field selectors: parsing and matching, as `k8s.io/apimachinery/pkg/labels` and `.../fields` do them.

Pure functions over strings and plain dicts; the store uses them to filter lists and watches, the HTTP facade
turns a `SelectorError` into a 400 `BadRequest`. Nothing here knows about resources or does I/O: which fields
a resource supports is passed in.
"""

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelRequirement",
    "LabelSelector",
    "SelectorError",
    "from_label_selector",
    "parse_field_selector",
    "parse_label_selector",
]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_NAME_RE = re.compile(f"^{_NAME}$")
_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TOKEN_RE = re.compile(r"\s*(==|!=|=|!|\(|\)|,|>|<|[^\s=!(),<>]+)")


class SelectorError(ValueError):
    """A selector that does not parse, or names a field the resource cannot be selected by."""


@dataclass(frozen=True)
class LabelRequirement:
    """One clause of a label selector: `key op values`."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        try:
            number = int(value) if value is not None else None
        except ValueError:
            return False
        if number is None:
            return False
        return number > int(self.values[0]) if self.op == "gt" else number < int(self.values[0])


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must hold; the empty selector matches everything."""

    requirements: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


@dataclass(frozen=True)
class FieldRequirement:
    """One clause of a field selector: `field=value` or `field!=value` (missing fields read as "")."""

    field: str
    op: str  # "=" or "!="
    value: str


@dataclass(frozen=True)
class FieldSelector:
    """All requirements must hold; the empty selector matches everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, field: Callable[[str], str]) -> bool:
        """`field(name)` gives the object's value for a field name, "" when absent."""
        for r in self.requirements:
            equal = field(r.field) == r.value
            if equal != (r.op == "="):
                return False
        return True

    def equals(self, name: str) -> str | None:
        """The value an `=` clause pins `name` to (for index lookups), or None."""
        for r in self.requirements:
            if r.field == name and r.op == "=":
                return r.value
        return None


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": name part must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )
    if "/" in key and (not prefix or len(prefix) > 253 or not _PREFIX_RE.match(prefix)):
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": prefix part must be a lowercase RFC 1123 '
            "subdomain"
        )


def _check_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME_RE.match(value)):
        raise SelectorError(
            f'unable to parse requirement: values[0]: Invalid value: "{value}": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None:  # pragma: no cover - the pattern accepts any non-space character
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


_OPERATORS = {"=", "==", "!=", "in", "notin", ">", "<"}
_SYMBOLS = {"=", "==", "!=", "!", "(", ")", ",", ">", "<"}


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3` into a `LabelSelector`."""
    tokens = _tokens(text or "")
    requirements: list[LabelRequirement] = []
    i = 0

    def take() -> str | None:
        nonlocal i
        token = tokens[i] if i < len(tokens) else None
        i += 1
        return token

    def peek() -> str | None:
        return tokens[i] if i < len(tokens) else None

    while i < len(tokens):
        token = take()
        if token == "!":
            key = take()
            if key is None or key in _SYMBOLS:
                raise SelectorError(f"unable to parse requirement: found '{key or ''}', expected: identifier")
            _check_key(key)
            requirements.append(LabelRequirement(key, "!"))
        elif token is not None and token not in _SYMBOLS:
            _check_key(token)
            op = peek()
            if op is None or op == ",":
                requirements.append(LabelRequirement(token, "exists"))
            elif op in _OPERATORS:
                take()
                requirements.append(_label_clause(token, op, take, peek))
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                )
        else:
            raise SelectorError(f"unable to parse requirement: found '{token}', expected: !, identifier")
        after = take()
        if after not in (None, ","):
            raise SelectorError(f"found '{after}', expected: ',' or 'end of string'")
        if after == "," and peek() is None:
            raise SelectorError("found 'end of string', expected: identifier after ','")
    return LabelSelector(tuple(requirements))


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def from_label_selector(selector: object) -> LabelSelector | None:
    """A `metav1.LabelSelector` (`matchLabels`, `matchExpressions`) as a selector, as `LabelSelectorAsSelector`.

    None for a missing or empty one, which callers such as eviction read as matching nothing; a malformed one
    is a `SelectorError`.
    """
    if not isinstance(selector, Mapping):
        return None
    requirements = [LabelRequirement(str(k), "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        op = _EXPRESSION_OPS.get(expression.get("operator", "")) if isinstance(expression, Mapping) else None
        if op is None:
            raise SelectorError(f"{expression!r} is not a valid label selector operator")
        values = tuple(str(v) for v in expression.get("values") or [])
        requirements.append(LabelRequirement(str(expression.get("key", "")), op, values))
    return LabelSelector(tuple(requirements)) if requirements else None


def _label_clause(
    key: str, op: str, take: Callable[[], str | None], peek: Callable[[], str | None]
) -> LabelRequirement:
    if op in ("in", "notin"):
        if take() != "(":
            raise SelectorError(f"unable to parse requirement: found '{peek() or ''}', expected: '('")
        values: list[str] = []
        while True:
            token = take()
            if token == ")":
                break
            if token is None:
                raise SelectorError("unable to parse requirement: found 'end of string', expected: ')'")
            if token == ",":
                continue
            if token in _SYMBOLS:
                raise SelectorError(f"unable to parse requirement: found '{token}', expected: identifier")
            _check_value(token)
            values.append(token)
        if not values:
            raise SelectorError("unable to parse requirement: for 'in', 'notin' operators, values set can't be empty")
        return LabelRequirement(key, op, tuple(values))
    value = ""
    if peek() not in (None, ","):
        token = take()
        if token in _SYMBOLS:
            raise SelectorError(f"unable to parse requirement: found '{token}', expected: identifier")
        value = token or ""
    if op in (">", "<"):
        if not re.fullmatch(r"-?\d+", value):
            raise SelectorError(
                f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {value!r}"
            )
        return LabelRequirement(key, "gt" if op == ">" else "lt", (value,))
    _check_value(value)
    return LabelRequirement(key, "!=" if op == "!=" else "=", (value,))


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch != "\\":
            if ch in "=!,":
                raise SelectorError(f"invalid field selector value: unescaped {ch!r} in {value!r}")
            out.append(ch)
            continue
        nxt = next(chars, None)
        if nxt is None or nxt not in "\\=!,":
            raise SelectorError(f"invalid field selector value: invalid escape sequence in {value!r}")
        out.append(nxt)
    return "".join(out)


def parse_field_selector(text: str | None, supported: Collection[str] | None = None) -> FieldSelector:
    """Parse `a=b,c!=d` (values may escape `\\,`, `\\=`, `\\!`, `\\\\`); reject fields not in `supported`."""
    if not text or not text.strip():
        return FieldSelector()
    requirements: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        for op in ("!=", "==", "="):
            index = _find_unescaped(term, op)
            if index >= 0:
                field, value = term[:index].strip(), term[index + len(op) :]
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        if not field:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        if supported is not None and field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, "!=" if op == "!=" else "=", _unescape(value)))
    return FieldSelector(tuple(requirements))


def _find_unescaped(term: str, op: str) -> int:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        if term.startswith(op, i):
            return i
        i += 1
    return -1
