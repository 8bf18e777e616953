"""The repository stands on its own: it reads nothing beside itself, declares what it imports, and CI runs the
README's test command."""

import ast
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("cluster", "telemetry", "scoring", "llm", "sim", "runtime", "agent", "training", "scheduler.py")
"""What the programs import: `scheduler.py` (its demo serves the emulated cluster from sim/), the node agent, and
`python -m training.train` / `training.evaluate`."""
DEVELOPMENT = ("benchmark", "tests")
LOCAL = {*(name.removesuffix(".py") for name in RUNTIME), *DEVELOPMENT}
OUTSIDE = re.compile(r"\.\./" + "shared" + r"\b|\bshared/(?:data|CONTRACTS)|[\"']shared[\"']\s*/")
"""A path to the development machine's notes beside the clone (spelt in pieces so this file does not match)."""
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}


def tracked_files() -> list[Path]:
    """The files git tracks; outside a git checkout, every file but caches and virtual environments."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        return [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    return [path for path in ROOT.rglob("*") if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)]


def test_no_file_refers_to_notes_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        if path == Path(__file__).resolve():
            continue  # its own examples of what it looks for
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "a clone has nothing beside it; use data/ or docs/contracts.md:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("line", "outside"),
    [
        pytest.param('DATA = "../' + 'shared/data/x.csv"', True, id="a relative path beside the clone"),
        pytest.param('Path(__file__).parents[2] / "' + 'shared" / "data"', True, id="a path joined from parts"),
        pytest.param("see ../" + "shared/CONTRACTS.md", True, id="a citation of the contracts' origin"),
        pytest.param('DATA = ROOT / "data" / "interference-measurements.csv"', False, id="the shipped data"),
        pytest.param("the HTTP connection pool is shared and thread-safe", False, id="the word in prose"),
    ],
)
def test_the_outside_pattern_tells_a_path_beside_the_clone_from_prose(line: str, outside: bool) -> None:
    assert bool(OUTSIDE.search(line)) is outside


def imported(*roots: str) -> set[str]:
    """Top-level names of the absolute imports in the Python files under `roots`, local packages and stdlib aside."""
    names: set[str] = set()
    for root in roots:
        path = ROOT / root
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), filename=str(file))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - LOCAL - set(sys.stdlib_module_names)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(file: str) -> set[str]:
    """The packages pinned in a requirements file (not those it includes with -r)."""
    lines = (ROOT / file).read_text(encoding="utf-8").splitlines()
    return {canonical(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]) for line in lines if re.match(r"[A-Za-z]", line)}


def distributions(modules: set[str]) -> set[str]:
    """The installed distributions that provide these top-level modules."""
    providers = metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in providers)
    assert not missing, f"imported but not installed: {missing}"
    return {canonical(dist) for module in modules for dist in providers[module]}


def test_requirements_txt_declares_exactly_what_the_runtime_imports() -> None:
    assert distributions(imported(*RUNTIME)) == declared("requirements.txt")


def test_requirements_dev_txt_adds_what_only_benchmarks_and_tests_import() -> None:
    lines = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert next(line for line in lines if line and not line.startswith("#")) == "-r requirements.txt"
    development, runtime = declared("requirements-dev.txt"), declared("requirements.txt")
    assert not development & runtime
    assert distributions(imported(*DEVELOPMENT)) - runtime <= development
    assert {"pytest", "ruff", "import-linter", "matplotlib", "kubernetes-validate"} <= development


def test_ci_runs_exactly_the_readme_s_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    command = [line for line in quick_start.splitlines() if "python -m pytest" in line]
    assert len(command) == 1, "the quick start should show one test command"
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert ci[-1] == command[0]
    assert command[0].startswith("pip install -r requirements-dev.txt && ")
