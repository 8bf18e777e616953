"""`scheduler.py decide --json` as a user runs it, with LLM_ENDPOINT pointing at the fake endpoint."""

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from tests.llm.conftest import PODS, ROOT, SNAPSHOT, TOKEN
from tests.llm.fake_llm import FakeLLM, Reply, offered_ids


def decide(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scheduler.py", "decide", "--snapshot", str(SNAPSHOT), "--pod", str(PODS), *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def last_offered(body: Mapping[str, Any]) -> str:
    ids = offered_ids(body)
    return json.dumps({"node": ids[-1], "reason": f"{ids[-1]} is the quietest"})


def test_every_placed_pod_is_decided_by_the_llm() -> None:
    with FakeLLM(answer=last_offered) as llm:
        result = decide("--json", env={"LLM_ENDPOINT": llm.url, "HUGGINGFACE_TOKEN": TOKEN})
        requests = list(llm.requests)
    assert result.returncode == 0, result.stderr
    decisions = {d["pod"]: d for d in map(json.loads, result.stdout.splitlines())}
    assert len(decisions) == 10
    placed = {k: d for k, d in decisions.items() if d["node"] is not None}
    assert set(decisions) - set(placed) == {"default/too-big"}
    for d in placed.values():
        assert d["tier"] == "llm", d
        assert d["node"] == max(d["scores"]), d  # the last id is the last candidate by node name
        assert d["reason"] == f"{d['node']} is the quietest"
        assert d["latency_ms"] > 0
    assert placed["ml/gpu-inference"]["node"] == "worker-4"
    assert placed["default/frontend-0"]["node"] != placed["default/frontend-1"]["node"]
    assert all(r.path == "/v1/chat/completions" for r in requests)
    assert TOKEN not in result.stdout + result.stderr


def test_a_failing_llm_falls_back_per_pod_and_the_forced_tier_declines() -> None:
    with FakeLLM() as llm:
        llm.script(Reply.error(400))
        auto = decide("--json", env={"LLM_ENDPOINT": llm.url})
        asked = len(llm.requests)
        forced = decide("--json", "--tier", "llm", env={"LLM_ENDPOINT": llm.url})
    assert auto.returncode == 0, auto.stderr
    causes = [d["fallbacks"]["llm"] for d in map(json.loads, auto.stdout.splitlines()) if d["node"] is not None]
    assert len(causes) == 9 and asked == 5  # a 400 is not retried; the breaker opens after five failures
    assert all(c.startswith("client_error: HTTP 400") for c in causes[:5])
    assert all(c.startswith("breaker_open") for c in causes[5:])
    assert forced.returncode == 1
    first = json.loads(forced.stdout.splitlines()[0])
    assert (first["node"], first["tier"]) == (None, "llm")
    assert first["reason"].startswith("llm tier did not decide: client_error")


def test_forcing_the_llm_without_a_way_to_reach_it_exits_2() -> None:
    result = decide("--tier", "llm", env={})
    assert result.returncode == 2
    assert result.stderr.startswith("error: the llm tier needs HUGGINGFACE_TOKEN")
    assert len(result.stderr.strip().splitlines()) == 1
