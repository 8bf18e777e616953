"""The LLM tier against a real llama.cpp server: llama-cpp-python's OpenAI-compatible server on loopback,
serving a tiny random-weight llama written at test time (`tests/llm/tiny_gguf.py`; nothing downloaded).

A model of noise is the hardest client there is: only the `llamacpp` answer format's grammar makes it
answer with a candidate id, and the reason it writes is random bytes and control characters, which must
reach the pod's annotation as one clean, short line.
"""

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from cluster.clock import SystemClock
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from llm.answer import REASON_LIMIT
from llm.client import refuses_format
from runtime.assemble import build_decider
from runtime.writer import REASON, decision_annotations
from scoring.decide import Tier
from telemetry.stats import Stats
from tests import tools
from tests.llm.conftest import llm_settings

INSTALLED = all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "gguf", "uvicorn", "fastapi"))
pytestmark = pytest.mark.skipif(
    not INSTALLED,
    reason=tools.missing("llama-cpp-python[server] (and gguf)", "the LLM tier's test against a real llama.cpp server"),
)
STARTUP_SECONDS = 60.0
PODS = ("default/redis-latency", "default/http-echo", "default/batch-etl", "default/best-effort-debug")


def wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the server's model list until it answers; fail with its log if it exits or never does."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the llama.cpp server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx2.get(f"{url}/v1/models", timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)  # a real process starting: nothing a fake clock could drive
    pytest.fail(f"the llama.cpp server did not serve within {STARTUP_SECONDS:g}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def llamacpp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.llm import tiny_gguf  # noqa: PLC0415 - gguf is there only when the test runs

    folder = tmp_path_factory.mktemp("llamacpp")
    model = tiny_gguf.write(folder / "tiny-llama.gguf")
    url = f"http://127.0.0.1:{tools.free_port()}"
    log = folder / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "tiny"]
    command += ["--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--n_ctx", str(tiny_gguf.CONTEXT)]
    # One thread per token: with more, thread hand-offs cost ~20 ms a token on a busy machine; two for the prompt.
    command += ["--n_threads", "1", "--n_threads_batch", "2"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(url, server, log)
        yield url
    finally:
        tools.stop(server)


def test_every_pod_is_decided_by_the_llm_with_a_clean_reason(
    llamacpp: str, snapshot: Snapshot, sample_pods: dict[str, Pod]
) -> None:
    settings = llm_settings(
        llamacpp,
        llm={
            "model": "tiny",
            "structured_output": "auto",
            "max_tokens": 400,  # a 200-character reason is one token per character for this vocabulary
            "timeout": 20.0,
            "deadline_seconds": 25.0,
            "max_retries": 0,
        },
        circuit_breaker={"failure_threshold": 1},
        cache={"enabled": False},
    )
    stats = Stats()
    decider = build_decider(settings, clock=SystemClock(), stats=stats)
    for key in PODS:
        decision = decider.decide(sample_pods[key], snapshot)
        assert (decision.tier, decision.fallbacks) == (Tier.LLM, {}), f"{key}: {decision.fallbacks}"
        assert decision.node in decision.scores  # one of the nodes the filters let through
        reason = decision_annotations(decision, shadow=False)[REASON]
        assert reason and reason.isprintable() and len(reason) <= REASON_LIMIT, repr(reason)
    assert stats.registry.get_sample_value("ai_scheduler_llm_answer_format", {"format": "llamacpp"}) == 1
    assert stats.registry.get_sample_value("ai_scheduler_llm_requests_total", {"outcome": "format_refused"}) is None
    assert stats.registry.get_sample_value("ai_scheduler_circuit_breaker_state", {"tier": "llm"}) == 0


def test_tgis_form_is_accepted_but_its_schema_ignored(
    llamacpp: str, snapshot: Snapshot, sample_pods: dict[str, Pod]
) -> None:
    """Why `auto` puts llama.cpp's form first on an endpoint: no refusal would reveal this one."""
    llm = {"model": "tiny", "structured_output": "response_format", "max_retries": 0, "timeout": 20.0}
    settings = llm_settings(llamacpp, llm={**llm, "deadline_seconds": 25.0})
    stats = Stats()
    decision = build_decider(settings, clock=SystemClock(), stats=stats).decide(sample_pods[PODS[0]], snapshot)
    assert decision.tier is Tier.HEURISTIC
    ok = stats.registry.get_sample_value("ai_scheduler_llm_requests_total", {"outcome": "ok"})
    assert ok == 1, decision.fallbacks  # HTTP 200: the form was accepted
    assert decision.fallbacks["llm"].split(":")[0] in {"not_json", "missing_field", "extra_field", "not_object"}


def test_openais_form_is_refused_in_words_the_negotiation_reads(llamacpp: str) -> None:
    """The router's form, sent as it is (huggingface_hub never sends it to an endpoint): a 500 naming the format."""
    schema = {"type": "object", "properties": {"node": {"type": "string"}}}
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
        "response_format": {"type": "json_schema", "json_schema": {"name": "placement", "schema": schema}},
    }
    response = httpx2.post(f"{llamacpp}/v1/chat/completions", json=body, timeout=10.0)
    assert response.status_code == 500
    assert refuses_format(response.status_code, response.text)
