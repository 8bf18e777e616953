"""The LLM's answer, validated: exactly `{"node": "<candidate id>", "reason": "<text>"}` or a rejection.

Pure. The endpoint is asked for this shape with a JSON-schema constraint, but a constraint is a
request, not a guarantee (providers differ, `structured_output: none` has none), so every answer is
checked here: empty content, prose around the JSON, another shape, a missing or extra field, a
duplicate key or an id that was not offered is rejected with a short cause, which is counted and
recorded as the reason the next tier decided. The reason text is untrusted (an endpoint can echo the
request's `Authorization` header into it), so it is cleaned here, once, before it reaches an annotation,
an event, a log line or the decision cache: one printable line, the configured secrets and anything
secret-shaped redacted, at most REASON_LIMIT characters. It is never used for control flow.
"""

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from llm.client import Completion
from telemetry.logs import redact

REASON_LIMIT = 200
"""Within the 256 characters the `ai-scheduler.io/decision-reason` annotation allows."""
_SCAN_LIMIT = 16 * REASON_LIMIT
"""Only this much of a reason is read: the rest could never reach the annotation."""
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ID = re.compile(r"\bn(\d+)\b")


class Rejection(StrEnum):
    """Why an answer was refused; the `cause` label of `ai_scheduler_llm_rejections`."""

    NO_CHOICES = "no_choices"
    EMPTY = "empty"
    NOT_JSON = "not_json"
    PROSE = "prose"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    EXTRA_FIELD = "extra_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_NODE = "unknown_node"


class AnswerRejectedError(ValueError):
    """The answer is not one the contract allows; `cause` is the short code, the message the detail."""

    def __init__(self, cause: Rejection, detail: str) -> None:
        super().__init__(f"{cause.value}: {detail}")
        self.cause = cause


@dataclass(frozen=True)
class Answer:
    node_id: str
    node: str
    reason: str
    """Cleaned, candidate ids replaced by node names, at most REASON_LIMIT characters."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise AnswerRejectedError(Rejection.NOT_OBJECT, "the object repeats a key")
    return dict(pairs)


_UNDECODABLE = (ValueError, RecursionError)
"""What `json` raises besides a syntax error: an integer past Python's 4,300 digits, arrays nested past the stack."""


def _decode(text: str) -> Any:
    """The one JSON value `text` holds, telling prose around JSON apart from no JSON at all.

    Raw control characters inside strings are let through (`strict=False`): llama.cpp's grammars emit them
    in a reason, and `clean_reason` removes them; everywhere else JSON stays strict.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped, object_pairs_hook=_no_duplicates, strict=False)
    except AnswerRejectedError:
        raise
    except json.JSONDecodeError as exc:
        start = stripped.find("{")
        if start >= 0:
            try:
                json.JSONDecoder(object_pairs_hook=_no_duplicates, strict=False).raw_decode(stripped, start)
            except AnswerRejectedError:
                raise
            except _UNDECODABLE:
                pass
            else:
                raise AnswerRejectedError(Rejection.PROSE, "text around the JSON object") from None
        raise AnswerRejectedError(Rejection.NOT_JSON, f"not JSON ({exc.msg})") from None
    except _UNDECODABLE:
        raise AnswerRejectedError(Rejection.NOT_JSON, "not JSON (nested too deeply, or a number too long)") from None


def _printable(text: str) -> str:
    """Control and line-separator characters become spaces; invisible format characters (zero-width
    joiners, bidi overrides) go, so they can neither split a token past the redactor nor hide text."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category != "Cf":
            kept.append(" " if category in _INVISIBLE else char)
    return "".join(kept)


def clean_reason(text: str, ids: Mapping[str, str], secrets: Iterable[str] = ()) -> str:
    """One printable line, secrets redacted, candidate ids shown as node names, at most REASON_LIMIT characters.

    Redaction runs on the whole line before it is cut, so no prefix of a secret survives the cut.
    """
    line = redact(" ".join(_printable(text[:_SCAN_LIMIT]).split()), secrets)
    line = _ID.sub(lambda m: ids.get(m.group(0), m.group(0)), line)
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


def parse(completion: Completion, ids: Mapping[str, str], secrets: Iterable[str] = ()) -> Answer:
    """The validated answer with its reason cleaned of `secrets`, or AnswerRejectedError saying why not."""
    if completion.choices == 0:
        raise AnswerRejectedError(Rejection.NO_CHOICES, "the endpoint returned no choices")
    text = completion.content
    if text is None or not text.strip():
        raise AnswerRejectedError(Rejection.EMPTY, "the answer is empty")
    value = _decode(text)
    if not isinstance(value, dict):
        raise AnswerRejectedError(Rejection.NOT_OBJECT, f"a JSON {type(value).__name__}, not an object")
    missing = sorted({"node", "reason"} - set(value))
    if missing:
        raise AnswerRejectedError(Rejection.MISSING_FIELD, f"no {', '.join(missing)}")
    extra = sorted(set(value) - {"node", "reason"})
    if extra:
        raise AnswerRejectedError(Rejection.EXTRA_FIELD, f"{len(extra)} unexpected field(s)")
    node_id, reason = value["node"], value["reason"]
    if not isinstance(node_id, str) or not isinstance(reason, str):
        raise AnswerRejectedError(Rejection.WRONG_TYPE, "node and reason must be strings")
    if node_id not in ids:
        raise AnswerRejectedError(Rejection.UNKNOWN_NODE, f"{len(ids)} candidate(s) were offered, not that id")
    return Answer(node_id=node_id, node=ids[node_id], reason=clean_reason(reason, ids, secrets) or "no reason given")
