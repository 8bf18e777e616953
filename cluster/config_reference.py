"""The configuration reference (`docs/configuration.md`), generated from the settings schema in `cluster.config`.

Walks `Settings`: every leaf key as `section.key` with its type (constraints included), default, the
environment variable that overrides it (from `config.ENV_KEYS` and `config.TOKEN_ENV`) and its meaning
(the docstring under the field, which pydantic keeps as its description). A field without a docstring
is an error, so a new key cannot ship undocumented. `python -m cluster.config_reference` rewrites the
file; `--check` exits 1 when the file differs from what the schema gives (the test suite runs the same
comparison). Pure apart from `main`'s file I/O; never changes or validates settings.
"""

import argparse
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from cluster import config

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
COMMAND = "python -m cluster.config_reference"


class UndocumentedKeyError(ValueError):
    """A settings field has no docstring (and so no description)."""


@dataclass(frozen=True)
class Key:
    """One leaf key of the settings, as the reference lists it."""

    name: str
    """Dotted: `section.key`, or `key` for a top-level field."""
    type: str
    default: str
    env: str | None
    meaning: str


@dataclass(frozen=True)
class Section:
    name: str | None
    """None for the top-level keys that belong to no section."""
    meaning: str
    keys: tuple[Key, ...]


def _is_section(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _env_by_key() -> dict[str, str]:
    env = {key: variable for variable, key in config.ENV_KEYS.items()}
    env["huggingface_token"] = config.TOKEN_ENV
    return env


def _one_line(text: str | None, where: str) -> str:
    if not text or not text.strip():
        raise UndocumentedKeyError(f"{where} has no docstring; document it under the field in cluster/config.py")
    return " ".join(text.split())


def sections(settings: type[BaseModel] = config.Settings) -> tuple[Section, ...]:
    """The schema as the reference shows it: one section per sub-model, then the top-level keys."""
    env = _env_by_key()
    result: list[Section] = []
    top: list[Key] = []
    for name, info in settings.model_fields.items():
        if _is_section(info.annotation):
            model = info.annotation
            keys = tuple(_key(f"{name}.{key}", field, env) for key, field in model.model_fields.items())
            result.append(Section(name, _one_line(info.description, name), keys))
        else:
            top.append(_key(name, info, env))
    if top:
        result.append(Section(None, "Keys outside any section.", tuple(top)))
    return tuple(result)


def leaf_keys(settings: type[BaseModel] = config.Settings) -> tuple[str, ...]:
    """Every documented key, dotted, in schema order."""
    return tuple(key.name for section in sections(settings) for key in section.keys)


def _key(name: str, info: FieldInfo, env: Mapping[str, str]) -> Key:
    default = info.get_default(call_default_factory=True)
    return Key(
        name=name,
        type=describe_type(info.annotation, info.metadata),
        default=render_value(default),
        env=env.get(name),
        meaning=_one_line(info.description, name),
    )


# -- types ---------------------------------------------------------------------------------------------


def describe_type(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """A readable type: `int in [1, 256]`, `float > 0`, `one of: a, b`, `str | null`, `map of str to int`."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(members) < len(get_args(annotation))
        text = " | ".join(describe_type(a, metadata) for a in members)
        return f"{text} | null" if nullable else text
    if origin is Literal:
        return "one of: " + ", ".join(str(v) for v in get_args(annotation))
    if origin is dict:
        key, value = get_args(annotation)
        return f"map of {describe_type(key)} to {describe_type(value)}"
    if annotation is SecretStr:
        return "secret str"
    name = getattr(annotation, "__name__", str(annotation))
    return name + _constraints(metadata)


def _constraints(metadata: Sequence[Any]) -> str:
    """Pydantic's `Field(ge=..., gt=..., le=..., lt=..., min_length=...)` metadata as text."""
    low = high = None
    low_open = high_open = non_empty = False
    for item in metadata:
        if getattr(item, "ge", None) is not None:
            low = item.ge
        elif getattr(item, "gt", None) is not None:
            low, low_open = item.gt, True
        elif getattr(item, "le", None) is not None:
            high = item.le
        elif getattr(item, "lt", None) is not None:
            high, high_open = item.lt, True
        elif (getattr(item, "min_length", None) or 0) >= 1:
            non_empty = True
    if non_empty:
        return ", non-empty"
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{render_value(low)}, {render_value(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '≥'} {render_value(low)}"
    if high is not None:
        return f" {'<' if high_open else '≤'} {render_value(high)}"
    return ""


# -- values --------------------------------------------------------------------------------------------


def render_value(value: Any) -> str:
    """A default as YAML would write it in config.yaml (`null`, `true`, `60`, `{a: 1, b: 2}`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {render_value(v)}" for k, v in value.items()) + "}"
    return str(value)


# -- the document --------------------------------------------------------------------------------------

INTRO = f"""\
# Configuration reference

<!-- Generated by `{COMMAND}` from the schema in cluster/config.py: edit the docstring
under a field there and regenerate. tests/cluster/test_config_reference.py fails when this file is stale. -->

Settings come from a YAML file, then `.env`, then the environment, in rising precedence
(environment > `.env` > file). The file is `--config FILE`, else `config.yaml` in the working directory
when present. Every key is optional and defaults to the value below; [`config.yaml`](../config.yaml)
lists them all with the same defaults. Unknown keys are refused, so a typo cannot silently fall back to
a default. A bad value stops every command that reads the settings, with exit status 2 and one line
naming the key, the value and what is allowed:

```
error: config.yaml: fallback.strategy: 'fastest' is not allowed: Input should be 'resource_balanced', \
'least_loaded' or 'round_robin'
```

Types: `int in [1, 256]` is an integer from 1 to 256 inclusive, `float > 0` a strictly positive number,
`one of: a, b` one of the listed strings, `… | null` also accepts `null` (unset).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _table(keys: Sequence[Key]) -> Iterator[str]:
    yield "| key | type | default | env | meaning |"
    yield "|---|---|---|---|---|"
    for key in keys:
        env = _code(key.env) if key.env else ""
        yield f"| {_code(key.name)} | {_cell(key.type)} | {_code(key.default)} | {env} | {_cell(key.meaning)} |"


def render(settings: type[BaseModel] = config.Settings) -> str:
    """The whole reference as Markdown."""
    parts = [INTRO]
    found = sections(settings)
    env_rows = [(key.env, key.name) for section in found for key in section.keys if key.env]
    parts.append("## Environment variables\n")
    parts.append(
        "Each overrides one key (an empty value does not). `HUGGINGFACE_TOKEN` is read only from the environment "
        "or `.env`, never from a config file.\n"
    )
    parts.append("| variable | key |\n|---|---|")
    parts.extend(f"| `{variable}` | `{name}` |" for variable, name in env_rows)
    parts.append("")
    for section in found:
        title = f"## `{section.name}`" if section.name else "## Top-level keys"
        parts.append(f"{title}\n\n{section.meaning}\n")
        parts.extend(_table(section.keys))
        parts.append("")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"file to write (default {DEFAULT_OUTPUT})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale; regenerate it with `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
