"""Label and node selectors, for one object and vectorised over all nodes.

Semantics follow `k8s.io/apimachinery/pkg/labels` and `k8s.io/component-helpers/scheduling/corev1`:
`NotIn` and `DoesNotExist` match objects that lack the key, `Gt`/`Lt` compare integer label values,
an empty label selector matches everything, a missing one matches nothing, and an empty node
selector term matches no node. `LabelIndex` answers the same questions for every node at once so the
filters stay fast on thousands of nodes.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from cluster.objects import LabelSelector, NodeSelectorTerm, Requirement

NODE_NAME_FIELD = "metadata.name"


def _as_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def matches_requirement(labels: Mapping[str, str], req: Requirement) -> bool:
    """One selector requirement against one label set."""
    present = req.key in labels
    value = labels.get(req.key, "")
    match req.operator:
        case "In":
            return present and value in req.values
        case "NotIn":
            return not present or value not in req.values
        case "Exists":
            return present
        case "DoesNotExist":
            return not present
        case "Gt" | "Lt":
            if not present or len(req.values) != 1:
                return False
            have, want = _as_int(value), _as_int(req.values[0])
            if have is None or want is None:
                return False
            return have > want if req.operator == "Gt" else have < want
    return False


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """A `metav1.LabelSelector`: None matches nothing, an empty selector everything."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.match_labels):
        return False
    return all(matches_requirement(labels, req) for req in selector.match_expressions)


def term_matches(term: NodeSelectorTerm, labels: Mapping[str, str], node_name: str) -> bool:
    """A node selector term: all expressions and fields must hold; an empty term matches nothing."""
    if not term.match_expressions and not term.match_fields:
        return False
    if not all(matches_requirement(labels, req) for req in term.match_expressions):
        return False
    fields = {NODE_NAME_FIELD: node_name}
    return all(req.key == NODE_NAME_FIELD and matches_requirement(fields, req) for req in term.match_fields)


class LabelIndex:
    """Per-key columns over a fixed sequence of label sets, built on first use of each key.

    A column is an int32 array of value codes (-1 where the key is absent) and the code table, so a
    requirement is one `np.isin` however many nodes there are.
    """

    def __init__(self, label_sets: Sequence[Mapping[str, str]], names: Sequence[str]) -> None:
        self._labels = label_sets
        self._names = names
        self._columns: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        self._name_column: tuple[np.ndarray, dict[str, int]] | None = None

    def __len__(self) -> int:
        return len(self._labels)

    def column(self, key: str) -> tuple[np.ndarray, dict[str, int]]:
        """Value codes of `key` per object and the value → code table."""
        cached = self._columns.get(key)
        if cached is None:
            cached = self._build([labels.get(key) for labels in self._labels])
            self._columns[key] = cached
        return cached

    def values(self, key: str) -> list[str | None]:
        """The raw value of `key` per object (None where absent)."""
        codes, table = self.column(key)
        by_code = {code: value for value, code in table.items()}
        return [by_code.get(int(code)) for code in codes]

    @staticmethod
    def _build(values: Sequence[str | None]) -> tuple[np.ndarray, dict[str, int]]:
        table: dict[str, int] = {}
        codes = np.empty(len(values), dtype=np.int32)
        for i, value in enumerate(values):
            codes[i] = -1 if value is None else table.setdefault(value, len(table))
        return codes, table

    def _names_column(self) -> tuple[np.ndarray, dict[str, int]]:
        if self._name_column is None:
            self._name_column = self._build(list(self._names))
        return self._name_column

    def requirement(self, req: Requirement, *, field: bool = False) -> np.ndarray:
        """Boolean mask of objects matching one requirement (a label, or with `field` the node name)."""
        if field:
            if req.key != NODE_NAME_FIELD:
                return np.zeros(len(self), dtype=bool)
            codes, table = self._names_column()
        else:
            codes, table = self.column(req.key)
        present = codes >= 0
        match req.operator:
            case "In" | "NotIn":
                wanted = [table[v] for v in req.values if v in table]
                inside = np.isin(codes, wanted) if wanted else np.zeros(len(codes), dtype=bool)
                return inside if req.operator == "In" else ~inside
            case "Exists":
                return present
            case "DoesNotExist":
                return ~present
            case "Gt" | "Lt":
                want = _as_int(req.values[0]) if len(req.values) == 1 else None
                if want is None:
                    return np.zeros(len(codes), dtype=bool)
                numeric = np.full(len(table) + 1, np.nan)
                for value, code in table.items():
                    number = _as_int(value)
                    numeric[code] = np.nan if number is None else number
                per_object = numeric[codes]  # code -1 picks the trailing NaN
                with np.errstate(invalid="ignore"):
                    return per_object > want if req.operator == "Gt" else per_object < want
        return np.zeros(len(codes), dtype=bool)

    def equals(self, key: str, value: str) -> np.ndarray:
        codes, table = self.column(key)
        code = table.get(value)
        return codes == code if code is not None else np.zeros(len(codes), dtype=bool)

    def selector(self, selector: LabelSelector) -> np.ndarray:
        """Mask of objects a label selector matches (`selector_matches` for every object; an empty one matches all)."""
        mask = np.ones(len(self), dtype=bool)
        for key, value in selector.match_labels:
            mask &= self.equals(key, value)
        for req in selector.match_expressions:
            mask &= self.requirement(req)
        return mask

    def term(self, term: NodeSelectorTerm) -> np.ndarray:
        """Mask of nodes matching a node selector term (an empty term matches none)."""
        if not term.match_expressions and not term.match_fields:
            return np.zeros(len(self), dtype=bool)
        mask = np.ones(len(self), dtype=bool)
        for req in term.match_expressions:
            mask &= self.requirement(req)
        for req in term.match_fields:
            mask &= self.requirement(req, field=True)
        return mask
