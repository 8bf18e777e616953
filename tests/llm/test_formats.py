"""Answer format negotiation: a server that refuses a format still gets the LLM's decision, in the next form."""

import logging

import pytest

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from llm.client import AnswerFormat
from llm.formats import FormatMemory, Route, candidates
from runtime.assemble import build_decider
from scoring.decide import Decider, Tier
from telemetry.logs import FIELDS
from telemetry.stats import Stats
from tests.llm.conftest import TOKEN, SteppedClock, llm_settings
from tests.llm.fake_llm import FakeLLM, Reply, wire_format

REDIS = "default/redis-latency"
GROQ = Reply.groq_refusal()
LLAMACPP = Reply.llamacpp_refusal()


def chain(fake_llm: FakeLLM, clock: SteppedClock, stats: Stats, structured_output: str = "auto") -> Decider:
    settings = llm_settings(
        fake_llm.url,
        token=TOKEN,
        llm={"structured_output": structured_output},
        circuit_breaker={"failure_threshold": 1, "timeout": 300},  # one counted failure would open it
        cache={"enabled": False},  # every pod asks the endpoint
    )
    return build_decider(settings, clock=clock, stats=stats)


def sample(stats: Stats, name: str, **labels: str) -> float:
    return stats.registry.get_sample_value(name, labels) or 0.0


def sent_forms(fake_llm: FakeLLM) -> list[str]:
    return [wire_format(r.body or {}) for r in fake_llm.requests]


@pytest.mark.parametrize(
    ("mode", "self_hosted", "expected"),
    [
        pytest.param(
            "auto",
            False,
            ("json_schema", "tgi", "llamacpp", "vllm", "none"),
            id="the router is asked in OpenAI's form first, then every other, then none",
        ),
        pytest.param(
            "auto",
            True,
            ("llamacpp", "tgi", "vllm", "none"),
            id="self-hosted: llama.cpp's form first (llama.cpp ignores TGI's silently; TGI refuses llama.cpp's)",
        ),
        pytest.param("response_format", False, ("json_schema",), id="pinned OpenAI form on the router"),
        pytest.param("response_format", True, ("tgi",), id="pinned response_format on an endpoint is TGI's form"),
        pytest.param("llamacpp", True, ("llamacpp",), id="pinned llama.cpp form"),
        pytest.param("vllm", True, ("vllm",), id="pinned vLLM form"),
        pytest.param("none", False, ("none",), id="no constraint"),
    ],
)
def test_the_forms_tried_follow_the_setting(mode: str, self_hosted: bool, expected: tuple[str, ...]) -> None:
    assert [f.value for f in candidates(mode, self_hosted=self_hosted)] == list(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("refuse", "accepted"),
    [
        pytest.param({"llamacpp": GROQ}, "tgi", id="a 400 naming the format, as Groq answers"),
        pytest.param({"llamacpp": LLAMACPP}, "tgi", id="a 500 naming the format, as llama-cpp-python answers"),
        pytest.param({"llamacpp": Reply.tgi_refusal()}, "tgi", id="TGI's 422 for llama.cpp's form: TGI's is next"),
        pytest.param({"llamacpp": GROQ, "tgi": GROQ}, "vllm", id="two forms refused: vLLM's is next"),
        pytest.param(
            {"llamacpp": GROQ, "tgi": LLAMACPP, "vllm": GROQ}, "none", id="every constraint refused: none at all"
        ),
    ],
)
def test_a_refused_format_still_gets_the_llms_decision_and_the_next_pod_no_refusal(
    stepped: SteppedClock,
    snapshot: Snapshot,
    sample_pods: dict[str, Pod],
    refuse: dict[str, Reply],
    accepted: str,
) -> None:
    stats = Stats()
    with FakeLLM(refuse=refuse) as server:
        decider = chain(server, stepped, stats)
        decisions = [decider.decide(sample_pods[REDIS], snapshot) for _ in range(3)]
        forms = sent_forms(server)
    assert [d.tier for d in decisions] == [Tier.LLM] * 3
    assert all(d.fallbacks == {} and d.to_json()["llm"]["attempts"] == 1 for d in decisions)
    assert forms == [*refuse, accepted, accepted, accepted]  # refused once, then remembered
    assert sample(stats, "ai_scheduler_circuit_breaker_state", tier="llm") == 0
    assert sample(stats, "ai_scheduler_llm_answer_format", format=accepted) == 1
    assert sample(stats, "ai_scheduler_llm_requests_total", outcome="format_refused") == len(refuse)
    assert sample(stats, "ai_scheduler_llm_requests_total", outcome="ok") == 3
    assert sample(stats, "ai_scheduler_llm_retries_total") == 0
    assert stats.summary()["llm_rejections"] == {}


def test_the_settled_format_is_logged_once_and_a_later_refusal_moves_on(
    stepped: SteppedClock, snapshot: Snapshot, sample_pods: dict[str, Pod], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.llm")
    stats = Stats()
    pod = sample_pods[REDIS]
    with FakeLLM(refuse={"llamacpp": GROQ}) as server:
        decider = chain(server, stepped, stats)
        for _ in range(3):
            decider.decide(pod, snapshot)
        server.refuse["tgi"] = GROQ  # the server behind the endpoint was replaced by one that knows less
        assert decider.decide(pod, snapshot).tier is Tier.LLM
        assert sent_forms(server)[4:] == ["tgi", "vllm"]
    settled = [r.getMessage() for r in caplog.records if getattr(r, FIELDS, {}).get("event") == "llm_answer_format"]
    assert settled == [
        "the LLM endpoint accepts the answer format tgi",
        "the LLM endpoint accepts the answer format vllm",
    ]
    assert sample(stats, "ai_scheduler_llm_answer_format", format="tgi") == 0
    assert sample(stats, "ai_scheduler_llm_answer_format", format="vllm") == 1
    assert TOKEN not in caplog.text


def test_the_process_remembers_the_format_across_tiers_of_the_same_route(
    stepped: SteppedClock, snapshot: Snapshot, sample_pods: dict[str, Pod]
) -> None:
    with FakeLLM(refuse={"llamacpp": Reply.tgi_refusal()}) as server:
        chain(server, stepped, Stats()).decide(sample_pods[REDIS], snapshot)
        stats = Stats()
        again = chain(server, stepped, stats)  # a re-built chain in the same process (a settings reload)
        assert sample(stats, "ai_scheduler_llm_answer_format", format="tgi") == 1
        assert again.decide(sample_pods[REDIS], snapshot).tier is Tier.LLM
        assert sent_forms(server) == ["llamacpp", "tgi", "tgi"]


def test_a_pinned_format_that_is_refused_falls_back_once_without_retries(
    stepped: SteppedClock, snapshot: Snapshot, sample_pods: dict[str, Pod]
) -> None:
    stats = Stats()
    with FakeLLM(refuse={"tgi": GROQ}) as server:
        decision = chain(server, stepped, stats, structured_output="response_format").decide(
            sample_pods[REDIS], snapshot
        )
        forms = sent_forms(server)
    assert decision.tier is Tier.HEURISTIC and decision.node is not None
    assert decision.fallbacks["llm"].startswith("format_refused: HTTP 400")
    assert forms == ["tgi"]  # a form the server does not know fails the same way again: no retry
    assert sample(stats, "ai_scheduler_llm_retries_total") == 0


def test_memory_never_records_the_last_form_as_refused() -> None:
    memory = FormatMemory()
    route = Route(endpoint="http://127.0.0.1:1", provider="auto", model="m")
    forms = (AnswerFormat.TGI, AnswerFormat.NONE)
    assert memory.refuse(route, forms, AnswerFormat.TGI) is AnswerFormat.NONE
    assert memory.refuse(route, forms, AnswerFormat.NONE) is None
    assert memory.current(route, forms) is AnswerFormat.NONE
    other = Route(endpoint="http://127.0.0.1:1", provider="auto", model="another")
    assert memory.current(other, forms) is AnswerFormat.TGI  # per model
