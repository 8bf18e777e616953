"""Reading the files a user hands the CLI (config, `.env`, pod manifests, snapshots), with bounded cost.

A file that is not UTF-8, YAML that uses aliases (a few hundred bytes of `&a [*a, *a, ...]` expand to
gigabytes), nesting deeper than any Kubernetes object needs, or a number too long to convert each end
in `UserFileError` naming the file, the line and the problem in one short line, never a traceback.
"""

import json
from pathlib import Path
from typing import Any

import yaml

from cluster.errors import UserError

MAX_DEPTH = 64
"""Deepest nesting accepted: a Pod's deepest field (an affinity term's values) sits at depth 9."""
MAX_DETAIL = 160
"""Characters of a parser's own message kept in an error line."""


class UserFileError(UserError, ValueError):
    """A user's file cannot be read as text, YAML or JSON; the message names the file and where."""


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    """`text` on one line and at most `limit` characters, so an error about a huge value stays readable; a lone
    surrogate (YAML's "\\ud800") escaped, as no stream or exception message can encode it."""
    flat = " ".join(str(text).encode("utf-8", "backslashreplace").decode("utf-8").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def read_text(path: str | Path) -> str:
    """The file's text; UserFileError when it cannot be read or is not UTF-8."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise UserFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise UserFileError(f"{path}: not UTF-8 text (byte 0x{byte:02x} at offset {exc.start})") from None


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without aliases and with a depth limit: the two ways a short YAML text costs unbounded memory
    or recursion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not accepted; write the value out", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {clip(exc.problem or exc.context or 'invalid')}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f"offset {exc.position}: character #x{exc.character:04x} is not allowed in YAML"
    return clip(str(exc))


def yaml_documents(text: str, source: str | Path) -> list[Any]:
    """Every document of a YAML text, with no aliases and bounded nesting; UserFileError naming `source`."""
    loader = None
    try:
        loader = _BoundedLoader(text)
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
        return documents
    except yaml.YAMLError as exc:
        raise UserFileError(f"{source}: not valid YAML at {_yaml_problem(exc)}") from None
    except ValueError as exc:  # a constructor's refusal, e.g. an integer longer than Python converts
        raise UserFileError(f"{source}: not valid YAML ({clip(str(exc))})") from None
    finally:
        if loader is not None:
            loader.dispose()


def yaml_document(path: str | Path, kind: str) -> Any:
    """The one YAML document of the file at `path` (None when it holds none); UserFileError when it cannot be read
    or holds several, a `kind` ("a config", "a scenario") being one."""
    documents = yaml_documents(read_text(path), path)
    if len(documents) > 1:
        raise UserFileError(f"{path}: holds {len(documents)} YAML documents; {kind} is one")
    return documents[0] if documents else None


def json_document(text: str, source: str | Path) -> Any:
    """The JSON value of `text`, refusing nesting deeper than the interpreter can parse; UserFileError naming
    `source`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserFileError(f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else clip(str(exc))
        raise UserFileError(f"{source}: not valid JSON ({detail})") from None
