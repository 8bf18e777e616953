"""`scheduler.py stats` on the log of a real run: the production loop (`runtime.app.build`) against the
emulated cluster over HTTP, the LLM tier against a local chat-completions server. A process killed before
its final summary, then a restart, must review to what actually happened: pods bound, LLM requests made."""

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import scheduler
from runtime import app
from runtime.kube import Kube
from sim.apiserver import Emulator, load_objects
from telemetry import logs
from telemetry.review import review
from telemetry.stats import Stats
from tests.builders import pod_json
from tests.e2e.cluster import bound, wait_until
from tests.llm.conftest import SNAPSHOT, SteppedClock, llm_settings
from tests.llm.fake_llm import FakeLLM, Reply


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def run_once(emulator: Emulator, fake_llm: FakeLLM, names: list[str]) -> Stats:
    """One scheduler process, from start to a clean stop; every pod in `names` bound."""
    stats = Stats()
    running = app.build(
        llm_settings(fake_llm.url), Kube.connect(server=emulator.url, timeout=5), clock=SteppedClock(), stats=stats
    )
    running.start()
    try:
        assert running.wait_ready(30), "informers did not sync"
        for i, name in enumerate(names):
            emulator.store.create("pods", pod_json(name, cpu=f"{100 + 10 * i}m", memory="64Mi"))
        wait_until(lambda: set(names) <= set(bound(emulator)), timeout=30, what=f"{len(names)} pods bound")
    finally:
        running.stop()
    return stats


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_killed_process_and_its_restart_review_to_what_happened(fake_llm: FakeLLM, fmt: str, tmp_path: Path, capsys):
    stream = io.StringIO()
    logs.setup(level="INFO", fmt=fmt, stream=stream)
    nodes = [o for o in load_objects(SNAPSHOT) if o["kind"] == "Node"]
    try:
        with Emulator(nodes) as emulator:
            first = run_once(emulator, fake_llm, [f"a{i}" for i in range(4)])
            # the first process is killed: its log ends before the final summary
            killed = stream.getvalue().splitlines()
            cut = next(i for i, line in enumerate(killed) if "final stats" in line)
            stream.seek(0)
            stream.truncate()
            stream.write("\n".join(killed[:cut]) + "\n")
            requests_before = len(fake_llm.requests)
            # the restart meets an LLM hiccup (one retry) and a failed binding (one retry of the pod)
            fake_llm.script(Reply.error(503), Reply.good())
            emulator.faults.fail_next(1, verb="create", resource="pods/binding", code=500)
            second = run_once(emulator, fake_llm, [f"b{i}" for i in range(3)])
            placed = bound(emulator)
    finally:
        logs.setup(level="WARNING")
    path = tmp_path / "scheduler.log"
    path.write_text(stream.getvalue())

    result = review(stream.getvalue().splitlines())
    assert [p.started for p in result.processes] == [True, True]
    assert [p.final for p in result.processes] == [False, True]
    killed_process, restarted = result.processes
    assert killed_process.bound == first.summary()["bound"] == 4
    assert restarted.bound == second.summary()["bound"] == 3
    assert sum(restarted.binding_failures.values()) == second.summary()["failed_bindings"] == 1
    assert sum(killed_process.llm_calls.values()) == first.summary()["llm_calls"] == requests_before
    assert restarted.llm_retries == second.summary()["llm_retries"] == 1
    assert sum(restarted.llm_calls.values()) == len(fake_llm.requests) - requests_before
    assert restarted.mismatches() == []

    assert scheduler.main(["stats", str(path), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["scheduled"] == len(placed) == 7
    assert sum(total["placements"].values()) == 7 and set(total["placements"]) <= {n["metadata"]["name"] for n in nodes}
    assert total["llm"]["calls"] == len(fake_llm.requests)
    assert total["llm"]["retries"] == 1 and total["bindings"]["failed"] == 1
    assert total["decisions"]["placed"] >= 7 and total["pods_seen"] == 7
