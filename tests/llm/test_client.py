"""The huggingface_hub seam against a real HTTP server: what is sent, and how each failure is typed."""

import logging
import socket
from dataclasses import replace

import pytest
from pydantic import SecretStr

from cluster.clock import SystemClock
from llm.client import (
    AnswerFormat,
    CallErrorKind,
    ChatRequest,
    HubChatClient,
    LLMCallError,
    cleartext_risk,
    constraint_arguments,
)
from llm.tier import LLMTier
from tests.llm.conftest import TOKEN, llm_settings
from tests.llm.fake_llm import FakeLLM, Reply

SCHEMA = {"type": "object", "properties": {"node": {"type": "string", "enum": ["n1", "n2"]}}}
REQUEST = ChatRequest(
    messages=({"role": "system", "content": "s"}, {"role": "user", "content": "{}"}),
    schema=SCHEMA,
    max_tokens=64,
    temperature=0.0,
    seed=7,
)


def client(url: str, *, token: str | None = None) -> HubChatClient:
    return HubChatClient(
        model="meta-llama/Llama-3.3-70B-Instruct", endpoint=url, token=SecretStr(token) if token else None
    )


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param(
            AnswerFormat.JSON_SCHEMA,
            {"response_format": {"type": "json_object", "value": SCHEMA}},
            id="OpenAI's shape reaches a self-hosted server as TGI's (huggingface_hub rewrites it)",
        ),
        pytest.param(AnswerFormat.TGI, {"response_format": {"type": "json_object", "value": SCHEMA}}, id="TGI shape"),
        pytest.param(
            AnswerFormat.LLAMACPP, {"response_format": {"type": "json_object", "schema": SCHEMA}}, id="llama.cpp shape"
        ),
        pytest.param(AnswerFormat.VLLM, {"structured_outputs": {"json": SCHEMA}}, id="vLLM structured outputs"),
        pytest.param(AnswerFormat.NONE, {}, id="no constraint"),
    ],
)
def test_the_answer_is_constrained_in_the_requested_form(fake_llm: FakeLLM, form: AnswerFormat, expected: dict) -> None:
    completion = client(fake_llm.url).complete(replace(REQUEST, answer_format=form), timeout=2)
    assert completion.content == '{"node": "n1", "reason": "first candidate offered"}'
    (request,) = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    body = request.body or {}
    assert body["model"] == "meta-llama/Llama-3.3-70B-Instruct"
    assert (body["seed"], body["temperature"], body["max_tokens"]) == (7, 0.0, 64)
    assert {k: body[k] for k in ("response_format", "structured_outputs") if k in body} == expected


def test_the_openai_shape_is_what_the_router_receives() -> None:
    args = constraint_arguments(AnswerFormat.JSON_SCHEMA, SCHEMA)
    assert args == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "placement", "schema": SCHEMA, "strict": True},
        }
    }


def test_an_endpoint_ending_in_v1_gets_the_same_path(fake_llm: FakeLLM) -> None:
    client(fake_llm.url + "/v1").complete(REQUEST, timeout=2)
    assert fake_llm.requests[0].path == "/v1/chat/completions"


def test_without_a_token_no_credential_is_sent(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_machineTokenThatMustNotLeak123")  # what huggingface_hub would fall back to
    client(fake_llm.url).complete(REQUEST, timeout=2)
    assert "authorization" not in fake_llm.requests[0].headers
    assert "hf_machine" not in fake_llm.requests[0].text


def test_with_a_token_it_is_the_bearer(fake_llm: FakeLLM) -> None:
    seam = client(fake_llm.url, token=TOKEN)
    seam.complete(REQUEST, timeout=2)
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(seam)


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        pytest.param(Reply.error(429, retry_after="3"), CallErrorKind.RATE_LIMITED, 429, id="429"),
        pytest.param(Reply.error(500), CallErrorKind.SERVER_ERROR, 500, id="500"),
        pytest.param(Reply.error(503, retry_after="1"), CallErrorKind.SERVER_ERROR, 503, id="503"),
        pytest.param(Reply.error(504), CallErrorKind.TIMEOUT, 504, id="504 gateway timeout"),
        pytest.param(Reply.error(400), CallErrorKind.CLIENT_ERROR, 400, id="400"),
        pytest.param(Reply.error(401), CallErrorKind.CLIENT_ERROR, 401, id="401"),
        pytest.param(Reply.error(422), CallErrorKind.CLIENT_ERROR, 422, id="422"),
        pytest.param(Reply.garbage(), CallErrorKind.BAD_RESPONSE, None, id="a body that is not JSON"),
        pytest.param(Reply(body=b"[1, 2]"), CallErrorKind.BAD_RESPONSE, None, id="JSON of the wrong shape"),
        pytest.param(Reply(body=b'{"id": "x"}'), CallErrorKind.BAD_RESPONSE, None, id="no choices list"),
        pytest.param(Reply.dropped(), CallErrorKind.CONNECTION, None, id="the connection is closed"),
        pytest.param(Reply.slow(1.0), CallErrorKind.TIMEOUT, None, id="slower than the timeout"),
    ],
)
def test_failures_are_typed(fake_llm: FakeLLM, reply: Reply, kind: CallErrorKind, status: int | None) -> None:
    fake_llm.script(reply)
    with pytest.raises(LLMCallError) as caught:
        client(fake_llm.url, token=TOKEN).complete(REQUEST, timeout=0.3)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    error = caught.value  # no chained huggingface_hub exception carries the request (and its headers) along
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    if reply.headers:
        assert caught.value.retry_after == reply.headers["Retry-After"]


GROQ = Reply.groq_refusal()
LLAMACPP = Reply.llamacpp_refusal()


@pytest.mark.parametrize(
    ("reply", "form", "kind"),
    [
        pytest.param(GROQ, AnswerFormat.TGI, CallErrorKind.FORMAT_REFUSED, id="a 400 naming response_format"),
        pytest.param(LLAMACPP, AnswerFormat.TGI, CallErrorKind.FORMAT_REFUSED, id="llama-cpp-python's 500"),
        pytest.param(
            Reply(status=422, body=b'{"error": "Failed to deserialize: response_format: missing field `value`"}'),
            AnswerFormat.LLAMACPP,
            CallErrorKind.FORMAT_REFUSED,
            id="a 422 naming response_format (TGI's validation)",
        ),
        pytest.param(
            Reply(status=400, body=b'{"error": "grammar is not supported"}'),
            AnswerFormat.VLLM,
            CallErrorKind.FORMAT_REFUSED,
            id="a 400 naming the grammar",
        ),
        pytest.param(GROQ, AnswerFormat.NONE, CallErrorKind.CLIENT_ERROR, id="no format was asked: a plain 400"),
        pytest.param(LLAMACPP, AnswerFormat.NONE, CallErrorKind.SERVER_ERROR, id="no format was asked: a plain 500"),
        pytest.param(Reply.error(400), AnswerFormat.TGI, CallErrorKind.CLIENT_ERROR, id="a 400 about something else"),
        pytest.param(Reply.error(500), AnswerFormat.TGI, CallErrorKind.SERVER_ERROR, id="a 500 about something else"),
        pytest.param(
            Reply(status=503, body=b'{"error": "response_format engine restarting"}'),
            AnswerFormat.TGI,
            CallErrorKind.SERVER_ERROR,
            id="a 503 is an outage whatever it says",
        ),
    ],
)
def test_a_refused_answer_format_is_told_apart(
    fake_llm: FakeLLM, reply: Reply, form: AnswerFormat, kind: CallErrorKind
) -> None:
    fake_llm.script(reply)
    with pytest.raises(LLMCallError) as caught:
        client(fake_llm.url).complete(replace(REQUEST, answer_format=form), timeout=2)
    assert caught.value.kind is kind


def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LLMCallError) as caught:
        client(f"http://127.0.0.1:{port}").complete(REQUEST, timeout=1)
    assert caught.value.kind is CallErrorKind.CONNECTION


PLAIN_TOKEN = "Qm4" * 14
"""A configured token of no known shape: only the configured value can find it."""


@pytest.mark.parametrize(
    ("token", "body", "leak"),
    [
        pytest.param(TOKEN, f"bad credentials Bearer {TOKEN}", TOKEN, id="the token behind Bearer"),
        pytest.param(PLAIN_TOKEN, f"unknown key {PLAIN_TOKEN}", PLAIN_TOKEN, id="a token of no known shape"),
        pytest.param(
            PLAIN_TOKEN, "x" * 160 + f" key {PLAIN_TOKEN}", PLAIN_TOKEN[:12], id="a token cut by the length limit"
        ),
    ],
)
def test_a_server_echoing_the_token_does_not_put_it_in_the_error(
    fake_llm: FakeLLM, token: str, body: str, leak: str
) -> None:
    fake_llm.script(Reply(status=500, body=body.encode()))
    with pytest.raises(LLMCallError) as caught:
        client(fake_llm.url, token=token).complete(REQUEST, timeout=2)
    assert leak not in str(caught.value) and "***" in str(caught.value)


def test_no_choices_and_null_content_are_completions_for_the_validator(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.no_choices())
    completion = client(fake_llm.url).complete(REQUEST, timeout=2)
    assert (completion.choices, completion.content) == (0, None)
    fake_llm.script(Reply(body=b'{"choices": [{"message": {"role": "assistant", "content": null}}]}'))
    completion = client(fake_llm.url).complete(REQUEST, timeout=2)
    assert (completion.choices, completion.content) == (1, None)


def test_the_router_refuses_a_token_that_is_not_a_hugging_face_token() -> None:
    router = HubChatClient(model="meta-llama/Llama-3.3-70B-Instruct", token=SecretStr("sk-not-hf"))
    with pytest.raises(LLMCallError) as caught:
        router.complete(REQUEST, timeout=1)
    assert caught.value.kind is CallErrorKind.CONFIG
    assert "sk-not-hf" not in str(caught.value)


@pytest.mark.parametrize(
    ("endpoint", "token_set", "warned"),
    [
        pytest.param("http://llm.internal:8000", True, True, id="a token over plain http to another host"),
        pytest.param("HTTP://10.0.0.7:8000/v1", True, True, id="a private address is still a network path"),
        pytest.param("http://user:pw@llm.internal", True, True, id="credentials in the URL do not make it safe"),
        pytest.param("https://llm.internal:8443", True, False, id="https"),
        pytest.param("http://127.0.0.1:8000", True, False, id="IPv4 loopback"),
        pytest.param("http://127.8.9.10:8000", True, False, id="anywhere in 127/8"),
        pytest.param("http://[::1]:8000", True, False, id="IPv6 loopback"),
        pytest.param("http://localhost:8000", True, False, id="localhost"),
        pytest.param("http://llm.internal:8000", False, False, id="no token to expose"),
        pytest.param(None, True, False, id="the Hugging Face router (https)"),
    ],
)
def test_a_token_bound_for_plain_http_off_loopback_is_a_risk(endpoint: str | None, token_set: bool, warned: bool):
    risk = cleartext_risk(endpoint, token_set=token_set)
    assert (risk is not None) is warned
    assert risk is None or ("pw" not in risk and "https" in risk)


def test_the_tier_warns_once_at_start_and_never_shows_the_token(caplog: pytest.LogCaptureFixture) -> None:
    settings = llm_settings("http://llm.internal:8000", token=TOKEN)
    with caplog.at_level(logging.WARNING, logger="scheduler.llm"):
        LLMTier.from_settings(settings, clock=SystemClock())
    warnings = [r for r in caplog.records if "cleartext" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert TOKEN not in caplog.text and "http://llm.internal" in caplog.text
