"""`redact`, the one scrubber of logs and LLM answers: a registered secret, any long run of it wherever
it sits, and secret shapes nobody registered."""

import pytest

from telemetry.logs import REDACTED, redact

SECRET = "s3cr3t-Value-0f-N0-Kn0wn-Shape-42"


@pytest.mark.parametrize("offset", range(0, 13))
@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(0, len(SECRET), id="the whole secret"),
        pytest.param(0, 12, id="its first 12 characters"),
        pytest.param(len(SECRET) - 12, len(SECRET), id="its last 12 characters"),
        pytest.param(7, 19, id="12 from its middle"),
        pytest.param(3, 30, id="most of it"),
    ],
)
def test_any_run_of_12_characters_of_a_registered_secret_is_redacted_at_any_offset(
    offset: int, start: int, end: int
) -> None:
    text = "x" * offset + SECRET[start:end] + " and more text after it"
    scrubbed = redact(text, [SECRET])
    assert SECRET[start:end] not in scrubbed and REDACTED in scrubbed
    assert scrubbed.endswith(" and more text after it")


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        pytest.param("pin ab here", ["ab"], f"pin {REDACTED} here", id="a short secret only whole"),
        pytest.param("s3cr3t-Valu", [SECRET], "s3cr3t-Valu", id="11 characters of a secret stay"),
        pytest.param("no secrets in this line", [SECRET], "no secrets in this line", id="an ordinary line"),
        pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", [], REDACTED, id="a JSON web token"),
        pytest.param("xoxb-1234567890-abcdef", [], REDACTED, id="a Slack token"),
        pytest.param("password: hunter22", [], f"password: {REDACTED}", id="an assigned password keeps its key"),
        pytest.param("max_tokens=200 token_budget=3000", [], "max_tokens=200 token_budget=3000", id="setting names"),
    ],
)
def test_redaction_table(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected
