"""Answer validation: exactly {"node": <offered id>, "reason": <text>}, anything else rejected with a cause."""

import json

import pytest

from llm.answer import REASON_LIMIT, AnswerRejectedError, Rejection, clean_reason, parse
from llm.client import Completion
from telemetry.logs import REDACTED
from tests.llm.conftest import TOKEN

IDS = {"n1": "worker-1", "n2": "worker-3", "n3": "worker-6"}


def reply(text: str | None, choices: int = 1) -> Completion:
    return Completion(content=text, choices=choices)


@pytest.mark.parametrize(
    ("text", "node", "reason"),
    [
        pytest.param('{"node": "n2", "reason": "quiet cache"}', "worker-3", "quiet cache", id="a plain answer"),
        pytest.param('\n  {"reason":"ok","node":"n1"}\n', "worker-1", "ok", id="whitespace and any key order"),
        pytest.param(
            '{"node": "n3", "reason": "n3 beats n1 on\\nmembw"}',
            "worker-6",
            "worker-6 beats worker-1 on membw",
            id="ids in the reason become node names on one line",
        ),
        pytest.param('{"node": "n1", "reason": ""}', "worker-1", "no reason given", id="an empty reason is allowed"),
        pytest.param(
            '{"node" :"n3", "reason":"e\x17bz@3\x0c#B\x1b[31m\tok" } ',
            "worker-6",
            "e bz@3 #B [31m ok",
            id="raw control characters in the reason, as llama.cpp's grammar writes them, are cleaned",
        ),
    ],
)
def test_valid_answers(text: str, node: str, reason: str) -> None:
    answer = parse(reply(text), IDS)
    assert (answer.node, answer.reason) == (node, reason)


@pytest.mark.parametrize(
    ("completion", "cause"),
    [
        pytest.param(reply(None, choices=0), Rejection.NO_CHOICES, id="no choice at all"),
        pytest.param(reply(None), Rejection.EMPTY, id="a choice without content"),
        pytest.param(reply("   "), Rejection.EMPTY, id="blank content"),
        pytest.param(reply('{"node": "n1", "reason": '), Rejection.NOT_JSON, id="truncated JSON"),
        pytest.param(reply("I would pick n1."), Rejection.NOT_JSON, id="prose without JSON"),
        pytest.param(reply("[" * 100_000), Rejection.NOT_JSON, id="arrays nested past the interpreter's stack"),
        pytest.param(reply('{"node": "n1", "reason": ' + "1" * 5000 + "}"), Rejection.NOT_JSON, id="a 5000-digit int"),
        pytest.param(
            reply('Sure: {"node": ' + "[" * 100_000), Rejection.NOT_JSON, id="prose, then nesting past the stack"
        ),
        pytest.param(reply('Sure! {"node": "n1", "reason": "x"}'), Rejection.PROSE, id="prose before the JSON"),
        pytest.param(reply('{"node": "n1", "reason": "x"} Hope this helps'), Rejection.PROSE, id="prose after"),
        pytest.param(reply('```json\n{"node": "n1", "reason": "x"}\n```'), Rejection.PROSE, id="a code fence"),
        pytest.param(reply('["n1"]'), Rejection.NOT_OBJECT, id="a list"),
        pytest.param(reply('"n1"'), Rejection.NOT_OBJECT, id="a bare string"),
        pytest.param(reply('{"node": "n1", "node": "n2", "reason": "x"}'), Rejection.NOT_OBJECT, id="a repeated key"),
        pytest.param(reply('{"node": "n1"}'), Rejection.MISSING_FIELD, id="no reason"),
        pytest.param(reply('{"reason": "x"}'), Rejection.MISSING_FIELD, id="no node"),
        pytest.param(reply('{"node": "n1", "reason": "x", "score": 9}'), Rejection.EXTRA_FIELD, id="an extra field"),
        pytest.param(reply('{"node": 1, "reason": "x"}'), Rejection.WRONG_TYPE, id="a number for the node"),
        pytest.param(reply('{"node": "n9", "reason": "x"}'), Rejection.UNKNOWN_NODE, id="an id never offered"),
        pytest.param(reply('{"node": "worker-1", "reason": "x"}'), Rejection.UNKNOWN_NODE, id="a real node name"),
    ],
)
def test_rejected_answers(completion: Completion, cause: Rejection) -> None:
    with pytest.raises(AnswerRejectedError) as caught:
        parse(completion, IDS)
    assert caught.value.cause is cause
    assert str(caught.value).startswith(cause.value)


def test_the_reason_is_one_printable_line_of_bounded_length() -> None:
    cleaned = clean_reason("a\x00b\x1b[31m red \u2028" + "x" * 500, IDS)
    assert "\x00" not in cleaned and "\x1b" not in cleaned and "\u2028" not in cleaned
    assert len(cleaned) == 200 and cleaned.endswith("…")


CONFIGURED = "Zq7-not-shaped-like-any-token"


@pytest.mark.parametrize(
    ("reason", "leaked"),
    [
        pytest.param(f"fits; Authorization: Bearer {TOKEN}", TOKEN, id="an echoed Authorization header"),
        pytest.param(f"token {TOKEN} was sent", TOKEN, id="a bare Hugging Face token"),
        pytest.param(f"key {CONFIGURED} here", CONFIGURED, id="the configured secret though it has no known shape"),
        pytest.param("auth Bearer abc.DEF_123-xyz ok", "abc.DEF_123-xyz", id="any bearer credential"),
        pytest.param("hf_\u200bZq7Zq7Zq7Zq7Zq7Zq7Zq7", "Zq7Zq7Zq7Zq7Zq7Zq7Zq7", id="a zero-width split token"),
        pytest.param(f"{TOKEN[:10]}\n{TOKEN[10:]}", TOKEN[10:], id="a token split across lines"),
        pytest.param("sk-ant-api03-AAAAAAAAAAAAAAAAAAAA is mine", "AAAAAAAAAAAAAAAAAAAA", id="another provider's key"),
        pytest.param("ghp_ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX", id="a GitHub token"),
        pytest.param('api_key="s3cr3t-value"', "s3cr3t-value", id="a key assigned a value"),
        pytest.param("AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP", id="an AWS access key id"),
        pytest.param(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3In0.c2lnbmF0dXJlLXZhbHVl", "c2lnbmF0dXJl", id="a JSON web token"
        ),
        pytest.param("x" * 190 + f" Bearer {TOKEN}", TOKEN[:5], id="a token where the length limit cuts"),
    ],
)
def test_the_reason_never_carries_a_secret(reason: str, leaked: str) -> None:
    cleaned = parse(reply(json.dumps({"node": "n1", "reason": reason})), IDS, [TOKEN, CONFIGURED]).reason
    assert leaked not in cleaned
    assert REDACTED in cleaned or len(cleaned) == REASON_LIMIT
    assert len(cleaned) <= REASON_LIMIT


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("worker-1 has the lowest token pressure", id="the word token"),
        pytest.param("the bearer of least load: n2", id="the word bearer"),
        pytest.param("Basic resources fit; max_tokens=200", id="the word basic and a short assignment"),
    ],
)
def test_ordinary_words_are_not_redacted(reason: str) -> None:
    assert REDACTED not in parse(reply(json.dumps({"node": "n1", "reason": reason})), IDS, [TOKEN]).reason
