"""What `scheduler.py` loads for each command, by the import graph: nothing but `demo` reaches the simulator.

`lint-imports` holds the layers; this follows `scheduler.py` itself (a script, not a package the contracts
name) through every module its commands import, lazily or not, as grimp sees them.
"""

import ast
from functools import cache
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("training", "agent", "runtime", "sim", "llm", "scoring", "telemetry", "cluster")
OFF_LIMITS = ("sim", "training")
"""The simulator and what is built on it: the scheduler's own commands must run without them."""


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def imported_by_command() -> dict[str, set[str]]:
    """Command function (`_run`, `_decide`, ...) → the project modules it imports; `<module>` for the top level."""
    tree = ast.parse((ROOT / "scheduler.py").read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {"<module>": set()}
    scopes = [("<module>", node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    for function in tree.body:
        if isinstance(function, ast.FunctionDef):
            found.setdefault(function.name, set())
            scopes += [(function.name, node) for node in ast.walk(function)]
    for scope, node in scopes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            found[scope] |= {name for name in names if name in graph().modules} or {node.module}
        elif isinstance(node, ast.Import):
            found[scope] |= {alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES}
    return found


def reaches(modules: set[str]) -> set[str]:
    """Every project module that importing `modules` may load, lazy imports included."""
    reached = set(modules)
    for module in modules:
        reached |= graph().find_upstream_modules(module)
    return reached


def off_limits(modules: set[str]) -> list[str]:
    return sorted(m for m in reaches(modules) if m.split(".")[0] in OFF_LIMITS)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param("<module>", id="what every command loads at start"),
        pytest.param("_run", id="run, the scheduler against a cluster"),
        pytest.param("_check", id="check, the preflight"),
        pytest.param("_decide", id="decide, the offline what-if"),
        pytest.param("_stats", id="stats, the log review"),
    ],
)
def test_no_command_but_demo_reaches_the_simulator(command: str) -> None:
    imports = imported_by_command()
    modules = imports[command] | imports["<module>"]
    assert "runtime.assemble" in modules, "scheduler.py no longer imports the chain's assembly at the top?"
    assert not off_limits(modules), f"scheduler.py {command} reaches {off_limits(modules)}"


def test_the_demo_does_reach_the_simulator_so_the_check_can_fail() -> None:
    assert "sim.apiserver" in reaches(imported_by_command()["_demo"])
