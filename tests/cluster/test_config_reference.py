"""docs/configuration.md is the schema's reference: generated from it, complete, with no stale key; config.yaml
holds schema keys only, at their defaults."""

import re
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from cluster import config, config_reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "configuration.md"
CONFIG_YAML = ROOT / "config.yaml"
KEY_CELL = re.compile(r"^\| `([a-z_.]+)` \| ", re.MULTILINE)


def schema_leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every leaf key of the settings, walked here independently of the generator."""
    leaves: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            leaves |= schema_leaves(annotation, f"{prefix}{name}.")
        else:
            leaves.add(f"{prefix}{name}")
    return leaves


def documented_keys(text: str) -> list[str]:
    """The first cell of each key row in the reference's tables."""
    return KEY_CELL.findall(text)


def test_the_committed_reference_is_what_the_schema_generates():
    assert DOCS.read_text(encoding="utf-8") == config_reference.render(), (
        "docs/configuration.md is stale: run `python -m cluster.config_reference`"
    )


def test_every_schema_key_is_documented_once_and_nothing_else():
    keys = documented_keys(DOCS.read_text(encoding="utf-8"))
    assert len(keys) == len(set(keys)), "a key is documented twice"
    assert set(keys) == schema_leaves(config.Settings)


def test_every_environment_variable_is_listed_with_its_key():
    text = DOCS.read_text(encoding="utf-8")
    for variable, key in {**config.ENV_KEYS, config.TOKEN_ENV: "huggingface_token"}.items():
        assert f"| `{variable}` | `{key}` |" in text


def test_every_key_in_config_yaml_is_a_schema_key():
    tree = yaml.safe_load(CONFIG_YAML.read_text(encoding="utf-8"))
    written = {f"{section}.{key}" for section, keys in tree.items() for key in keys}
    assert written <= schema_leaves(config.Settings), sorted(written - schema_leaves(config.Settings))


def test_config_yaml_shows_the_defaults_and_every_configurable_key():
    tree = yaml.safe_load(CONFIG_YAML.read_text(encoding="utf-8"))
    assert config.Settings.model_validate(tree) == config.Settings()
    written = {f"{section}.{key}" for section, keys in tree.items() for key in keys}
    assert written == schema_leaves(config.Settings) - {"huggingface_token"}


class _Part(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    documented: int = 1
    """Has a meaning."""
    bare: int = 2


class _Sample(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    part: _Part = _Part()
    """A section."""


def test_a_key_without_a_docstring_is_refused():
    with pytest.raises(config_reference.UndocumentedKeyError, match=r"part\.bare has no docstring"):
        config_reference.sections(_Sample)


@pytest.mark.parametrize(
    ("annotation", "metadata", "expected"),
    [
        pytest.param(int, Field(16, ge=1, le=256).metadata, "int in [1, 256]", id="an inclusive range"),
        pytest.param(float, Field(1.0, gt=0).metadata, "float > 0", id="a strict lower bound"),
        pytest.param(int, Field(1, ge=1).metadata, "int ≥ 1", id="an inclusive lower bound"),
        pytest.param(str, Field("x", min_length=1).metadata, "str, non-empty", id="a non-empty string"),
        pytest.param(str | None, (), "str | null", id="an optional string"),
        pytest.param(Literal["text", "json"], (), "one of: text, json", id="a choice"),
        pytest.param(dict[str, int], (), "map of str to int", id="a mapping"),
        pytest.param(config.SecretStr | None, (), "secret str | null", id="an optional secret"),
    ],
)
def test_types_read_as_text(annotation, metadata, expected):
    assert config_reference.describe_type(annotation, metadata) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, "null", id="None is null"),
        pytest.param(False, "false", id="booleans as YAML writes them"),
        pytest.param(60.0, "60", id="a whole float without its decimals"),
        pytest.param(0.85, "0.85", id="a fraction"),
        pytest.param({"a": 1, "b": 2}, "{a: 1, b: 2}", id="a mapping in flow style"),
    ],
)
def test_defaults_read_as_yaml(value, expected):
    assert config_reference.render_value(value) == expected


def test_check_fails_on_a_stale_file_and_passes_on_a_fresh_one(tmp_path, capsys):
    output = tmp_path / "configuration.md"
    assert config_reference.main(["--check", "--output", str(output)]) == 1
    output.write_text(config_reference.render().replace("Seconds", "Minutes", 1), encoding="utf-8")
    assert config_reference.main(["--check", "--output", str(output)]) == 1
    assert "is stale" in capsys.readouterr().err
    assert config_reference.main(["--output", str(output)]) == 0
    assert config_reference.main(["--check", "--output", str(output)]) == 0
