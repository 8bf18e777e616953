"""The image recipe (deploy/Dockerfile) and its build context (.dockerignore), read as text: no daemon
or registry is needed. The final stage runs as a numeric non-root user, carries the shipped weights and
nothing secret, and the builder installs the runtime requirements only."""

import re
import shlex

import pytest

from tests.deploy.conftest import DEPLOY, ROOT

WEIGHTS = "scoring/transformer/model.pt"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1] if " " in line.strip() else "")
        for line in (raw.strip() for raw in joined.splitlines())
        if line
    ]


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, a stage starting at each FROM."""
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def copied(stage: list[tuple[str, str]]) -> list[str]:
    """The build-context sources of a stage's COPY and ADD instructions (not those copied from a stage)."""
    sources = []
    for name, arguments in stage:
        if name in {"COPY", "ADD"}:
            words = shlex.split(arguments)
            if any(word.startswith("--from=") for word in words):
                continue
            sources += [word for word in words if not word.startswith("--")][:-1]
    return sources


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression, as Docker reads it (`**` any depth, `*` no slash)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def ignored(path: str, rules: list[str]) -> bool:
    """Whether Docker leaves `path` out of the build context: the last rule matching it or a parent decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!").strip("/"))
        if any(pattern.match(candidate) for candidate in candidates):
            verdict = not negated
    return verdict


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def final(dockerfile: str) -> list[tuple[str, str]]:
    return stages(dockerfile)[-1]


@pytest.fixture(scope="module")
def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_is_built_in_two_stages_on_slim_python_3_11(dockerfile: str):
    built = stages(dockerfile)
    assert len(built) >= 2
    assert all(stage[0][1].split()[0] == "python:3.11-slim" for stage in built)


def test_the_final_stage_runs_as_a_numeric_non_root_user(final: list[tuple[str, str]]):
    users = [arguments for name, arguments in final if name == "USER"]
    assert users, "the final stage sets no USER, so it runs as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0
    assert not group or (group.isdigit() and int(group) != 0)


def test_no_healthcheck(dockerfile: str):
    assert "HEALTHCHECK" not in {name for name, _ in instructions(dockerfile)}


def test_the_final_stage_copies_the_application_and_the_weights_but_no_secrets(
    final: list[tuple[str, str]], dockerignore: list[str]
):
    sources = [source.rstrip("/") for source in copied(final)]
    assert not any(source in {".", "*"} or ".env" in source for source in sources)
    assert {"scheduler.py", "config.yaml", "cluster", "runtime", "scoring", "llm", "telemetry", "agent"} <= set(sources)
    assert any(source == WEIGHTS or WEIGHTS.startswith(source + "/") for source in sources)
    assert (ROOT / WEIGHTS).is_file()
    assert not ignored(WEIGHTS, dockerignore)


def test_the_final_stage_installs_nothing(final: list[tuple[str, str]]):
    commands = " ".join(arguments for name, arguments in final if name == "RUN")
    assert not re.search(r"\b(apt-get|apt|pip|gcc|make)\b", commands)


def test_the_builder_installs_the_runtime_requirements_only_with_cpu_torch(dockerfile: str):
    builder = stages(dockerfile)[0]
    run = " ".join(arguments for name, arguments in builder if name == "RUN")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in run
    assert copied(builder) == ["requirements.txt"] and "-r /build/requirements.txt" in run
    runtime = {line.split("==")[0] for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line}
    assert "torch" in runtime and "kubernetes" in runtime
    assert not runtime & {"pytest", "ruff", "import-linter", "kubernetes-validate", "matplotlib", "py-spy"}


@pytest.mark.parametrize(
    ("path", "left_out"),
    [
        pytest.param(".env", True, id="the local .env"),
        pytest.param(".git/config", True, id="the git history"),
        pytest.param("demo.kubeconfig", True, id="a kubeconfig"),
        pytest.param("cluster/.env", True, id="a .env inside the application code"),
        pytest.param("tests/conftest.py", True, id="the tests"),
        pytest.param("benchmark/results/perf.json", True, id="benchmark results"),
        pytest.param("scoring/__pycache__/decide.cpython-311.pyc", True, id="bytecode caches"),
        pytest.param("scheduler.py", False, id="the command line"),
        pytest.param("runtime/app.py", False, id="the application code"),
        pytest.param("requirements.txt", False, id="the requirements the builder reads"),
        pytest.param("requirements-dev.txt", True, id="the development requirements"),
    ],
)
def test_the_build_context_leaves_out_secrets_and_everything_the_image_does_not_need(
    dockerignore: list[str], path: str, left_out: bool
):
    assert ignored(path, dockerignore) is left_out
