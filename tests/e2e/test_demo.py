"""`scheduler.py demo`, as the README's first command runs it: no cluster, no token."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOISY = ("worker-2", "worker-5")  # seed-001's cache thrasher and hidden bandwidth hog


def test_the_demo_places_the_sample_pods_and_reports_them():
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "scheduler.py", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "No HUGGINGFACE_TOKEN or LLM_ENDPOINT: the LLM tier is off" in out
    assert "Traceback" not in out + result.stderr
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│ ")}
    for latency_critical in ("default/redis-latency", "default/http-echo", "default/frontend-0"):
        assert not any(node in rows[latency_critical] for node in NOISY), rows[latency_critical]
        assert "│ no " in rows[latency_critical]
    assert "gpu-1" in rows["ml/gpu-inference"]
    assert "0/7 nodes are available" in rows["default/too-big"]
    assert "pods_seen" in out and "latency_ms_p99" in out
