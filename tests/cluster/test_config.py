"""Settings precedence (env > .env > config.yaml), validation messages, and the token's secrecy."""

import pytest

from cluster import config


def write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path):
    settings = config.load(None, environ={}, dotenv=tmp_path / "missing.env")
    assert settings.scheduler.name == "ai-llama-scheduler"
    assert settings.llm.model == "meta-llama/Llama-3.3-70B-Instruct"
    assert settings.huggingface_token is None


def test_environment_beats_dotenv_beats_yaml(tmp_path):
    path = write(tmp_path, "llm:\n  model: from-yaml\n  endpoint: http://yaml\nlogging:\n  level: DEBUG\n")
    dotenv = tmp_path / ".env"
    dotenv.write_text("LLM_MODEL=from-dotenv\nLLM_ENDPOINT=http://dotenv\n")
    settings = config.load(path, environ={"LLM_MODEL": "from-env"}, dotenv=dotenv)
    assert settings.llm.model == "from-env"
    assert settings.llm.endpoint == "http://dotenv"
    assert settings.logging.level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        pytest.param(
            "llm:\n  temperature: hot\n",
            {},
            "llm.temperature: 'hot' is not allowed: Input should be a valid number",
            id="wrong type",
        ),
        pytest.param(
            "circuit_breaker:\n  failure_threshold: 0\n",
            {},
            "circuit_breaker.failure_threshold: 0 is not allowed: Input should be greater than or equal to 1",
            id="out of range",
        ),
        pytest.param(
            "fallback:\n  strategy: fastest\n",
            {},
            "fallback.strategy: 'fastest' is not allowed: Input should be 'resource_balanced', 'least_loaded' or "
            "'round_robin'",
            id="not one of the choices",
        ),
        pytest.param(
            "scoring:\n  percentage_of_nodes_to_score: 101\n",
            {},
            "scoring.percentage_of_nodes_to_score: 101 is not allowed: Input should be less than or equal to 100",
            id="a percentage over 100",
        ),
        pytest.param("cache:\n  tll: 5\n", {}, "cache.tll: unknown key", id="a misspelt key"),
        pytest.param("", {"LOG_FORMAT": "xml"}, "logging.format: 'xml' is not allowed", id="bad environment value"),
        pytest.param("- a\n- b\n", {}, "the top level must be a mapping", id="not a mapping"),
        pytest.param("llm: [unclosed\n", {}, "not valid YAML", id="broken YAML"),
        pytest.param("huggingface_token: hf_x\n", {}, "set HUGGINGFACE_TOKEN", id="token in the config file"),
    ],
)
def test_errors_name_key_value_and_what_is_allowed(tmp_path, text, environ, message):
    with pytest.raises(config.ConfigError, match=None) as caught:
        config.load(write(tmp_path, text), environ=environ, dotenv=None)
    assert message in str(caught.value)


def test_an_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(config.ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.yaml", environ={}, dotenv=None)


def test_token_is_secret_in_repr_and_errors(tmp_path):
    secret = "hf_abcdefghijklmnopqrstuvwxyz"
    settings = config.load(None, environ={"HUGGINGFACE_TOKEN": secret}, dotenv=None)
    assert settings.huggingface_token.get_secret_value() == secret
    assert secret not in repr(settings)
    assert secret not in str(settings)
    with pytest.raises(config.ConfigError) as caught:
        config.load(write(tmp_path, "llm:\n  timeout: -1\n"), environ={"HUGGINGFACE_TOKEN": secret}, dotenv=None)
    assert secret not in str(caught.value)


def test_the_shipped_config_is_valid_and_matches_the_defaults():
    shipped = config.load("config.yaml", environ={}, dotenv=None)
    assert shipped.model_dump() == config.Settings().model_dump()
