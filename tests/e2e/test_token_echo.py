"""An LLM endpoint that echoes the request's Authorization header back: the token reaches no pod,
event, log line, decision-cache answer or `/metrics` sample (issue 14, item 3)."""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from runtime.writer import REASON, TIER
from sim.apiserver import Emulator
from tests.e2e.cluster import bound, node, pod, pods, wait_until
from tests.llm.conftest import TOKEN
from tests.llm.fake_llm import FakeLLM, Reply

ROOT = Path(__file__).resolve().parents[2]
PODS = 20
LEAKS = (TOKEN, TOKEN[3:15], "Bearer hf_")
"""The token, a long run of it, and its header shape: none may appear anywhere the scheduler writes."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def leaks(text: str) -> list[str]:
    return [shape for shape in LEAKS if shape in text]


def test_an_endpoint_echoing_the_token_leaks_it_nowhere(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "metrics": {"port": port, "address": "127.0.0.1"},
                "llm": {"timeout": 5.0, "deadline_seconds": 10.0},
                "scoring": {"model_path": "tests/llm/no-transformer-weights.pt"},
                "logging": {"level": "DEBUG"},
            }
        )
    )
    log = tmp_path / "scheduler.log"
    with FakeLLM() as llm, Emulator(objects=[node(f"w{i}") for i in range(4)]) as emulator:
        llm.script(Reply.echoing())
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HUGGINGFACE_TOKEN": TOKEN,
            "LLM_ENDPOINT": llm.url,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "scheduler.py", "run", "--server", emulator.url, "--config", str(config)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            emulator.store.create("pods", pod("p00"))
            wait_until(lambda: len(bound(emulator)) == 1, timeout=60, what="the first pod bound")
            for i in range(1, PODS):
                # Identical pods: the decision cache answers them with the first pod's reason.
                emulator.store.create("pods", pod(f"p{i:02d}"))
            wait_until(lambda: len(bound(emulator)) == PODS, timeout=60, what=f"{PODS} pods bound")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                metrics = response.read().decode()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        placed = pods(emulator)
        events = emulator.store.list("events").items
    assert llm.requests and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in llm.requests)
    by_llm = [p for p in placed if p["metadata"]["annotations"].get(TIER) == "llm"]
    assert len(by_llm) >= PODS // 2, "most pods were decided by the echoing LLM or its cache: chances to leak"
    assert all("***" in p["metadata"]["annotations"][REASON] for p in by_llm)
    assert leaks(json.dumps(placed)) == []
    assert leaks(json.dumps(events)) == []
    assert leaks(log.read_text()) == []
    assert leaks(metrics) == []
