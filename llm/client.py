"""The one seam to the LLM endpoint: the only module that imports `huggingface_hub`.

`HubChatClient.complete` sends one chat-completions request through `huggingface_hub.InferenceClient`
— to the Hugging Face router (`provider`, default `auto`) or, with `llm.endpoint`, to a self-hosted
OpenAI-compatible server (TGI, vLLM, llama.cpp) through `base_url`, where the client posts to
`<endpoint>/v1/chat/completions` — and returns the first choice's text. Every failure leaves as an
`LLMCallError` whose `kind` says whether a retry can help; nothing from `huggingface_hub` or its HTTP
stack escapes, and no message carries the token or the request's headers.

It never retries, waits, parses the answer or decides anything: one call, one outcome. Which answer
format a call sends is the request's `answer_format`; an answer saying the server does not know that
format is typed `FORMAT_REFUSED`, so `llm.formats` can try the next one. A fresh
`InferenceClient` is made per call because its timeout is per instance and each call gets what is
left of the pod's deadline; the HTTP connection pool underneath is shared and thread-safe.
"""

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, OfflineModeIsEnabled
from pydantic import SecretStr

from telemetry.logs import redact

SCHEMA_NAME = "placement"
_DETAIL_LIMIT = 200
_REFUSAL_STATUSES = frozenset({400, 422, 500})
"""400/422: a server that validates the request (Groq, TGI, vLLM); 500: llama-cpp-python, whose request
validation error surfaces as an internal error."""
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "grammar", "structured_output", "guided_")
"""What a refusal of the answer format mentions; a 4xx or 5xx that names none of these is another error."""


class AnswerFormat(StrEnum):
    """One way of asking a server for a JSON-schema-shaped answer; the `format` label of
    `ai_scheduler_llm_answer_format`."""

    JSON_SCHEMA = "json_schema"
    """OpenAI's `{"type": "json_schema", "json_schema": {...}}`: the Hugging Face router and its providers."""
    TGI = "tgi"
    """TGI's `{"type": "json_object", "value": schema}` (what `InferenceClient` sends for `json_schema` in
    `base_url` mode)."""
    LLAMACPP = "llamacpp"
    """llama.cpp's `{"type": "json_object", "schema": schema}` (llama-server and llama-cpp-python)."""
    VLLM = "vllm"
    """vLLM's `structured_outputs` request field (vLLM >= 0.10; it replaced `guided_json`)."""
    NONE = "none"
    """No constraint: the prompt and the validation in code."""


class CallErrorKind(StrEnum):
    """Why a call failed; also the `outcome` label of `ai_scheduler_llm_requests`."""

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    CLIENT_ERROR = "client_error"
    FORMAT_REFUSED = "format_refused"
    """The server does not know the answer format the request used (see `AnswerFormat`)."""
    BAD_RESPONSE = "bad_response"
    CONFIG = "config"


class LLMCallError(Exception):
    """One chat-completions call failed; `kind` and `status` drive the retry decision."""

    def __init__(
        self, kind: CallErrorKind, message: str, *, status: int | None = None, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        """The raw `Retry-After` header of a 429 or 503, if the server sent one."""


@dataclass(frozen=True)
class ChatRequest:
    """What one call asks: the messages, the answer's JSON schema, how to send it, and the sampling settings."""

    messages: Sequence[Mapping[str, str]]
    schema: Mapping[str, Any]
    max_tokens: int
    temperature: float
    seed: int | None
    answer_format: AnswerFormat = AnswerFormat.NONE


@dataclass(frozen=True)
class Completion:
    """The first choice's text (None when the server sent no choice or no content)."""

    content: str | None
    choices: int
    finish_reason: str | None = None
    prompt_tokens: int | None = None


class ChatClient(Protocol):
    """Sends one chat-completions request; raises `LLMCallError`."""

    def complete(self, request: ChatRequest, *, timeout: float) -> Completion: ...


def constraint_arguments(form: AnswerFormat, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The `chat_completion` keyword arguments that ask for an answer shaped by `schema` in `form`.

    `JSON_SCHEMA` is OpenAI's format; the Hugging Face router passes it on, and in `base_url` mode
    `InferenceClient` rewrites it into TGI's, so a self-hosted server never receives it. TGI's and
    llama.cpp's forms go in `response_format` as they are (`InferenceClient` leaves a `json_object` alone);
    vLLM's goes in `extra_body`, which `InferenceClient` merges into the request body.
    """
    if form is AnswerFormat.JSON_SCHEMA:
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": dict(schema), "strict": True},
            }
        }
    if form is AnswerFormat.TGI:
        return {"response_format": {"type": "json_object", "value": dict(schema)}}
    if form is AnswerFormat.LLAMACPP:
        return {"response_format": {"type": "json_object", "schema": dict(schema)}}
    if form is AnswerFormat.VLLM:
        return {"extra_body": {"structured_outputs": {"json": dict(schema)}}}
    return {}


def refuses_format(status: int, text: str) -> bool:
    """Does an HTTP error with this status and body say the server does not know the answer format?"""
    lowered = text.lower()
    return status in _REFUSAL_STATUSES and any(word in lowered for word in _FORMAT_WORDS)


def cleartext_risk(endpoint: str | None, *, token_set: bool) -> str | None:
    """Why sending the token to `endpoint` would expose it, or None.

    A plain `http://` endpoint carries the token as cleartext to whoever is on the path; loopback has no
    path, so a sidecar model server on 127.0.0.1 or localhost is fine. Says nothing about the token itself.
    """
    if not token_set or not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme.lower() != "http":
        return None
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"the Hugging Face token is sent in cleartext to http://{host} (plain http to a host "
        "that is not loopback): use an https endpoint, or unset HUGGINGFACE_TOKEN if the server needs none"
    )


class HubChatClient:
    """Chat completions through `huggingface_hub.InferenceClient`; the token never leaves as text."""

    def __init__(
        self,
        *,
        model: str,
        endpoint: str | None = None,
        provider: str = "auto",
        token: SecretStr | None = None,
    ) -> None:
        self.model = model
        self.endpoint = endpoint
        self.provider = provider
        self._token = token

    def __repr__(self) -> str:
        where = self.endpoint or f"the Hugging Face router (provider {self.provider})"
        return f"HubChatClient(model={self.model!r}, endpoint={where!r}, token={'set' if self._token else 'unset'})"

    def _client(self, timeout: float) -> InferenceClient:
        token = self._token.get_secret_value() if self._token else None
        if self.endpoint:
            # Without a token, send no Authorization header at all: huggingface_hub would otherwise fall
            # back to a token saved on this machine and hand it to a self-hosted server.
            headers = {} if token else {"authorization": None}
            return InferenceClient(base_url=self.endpoint, api_key=token, timeout=timeout, headers=headers)  # type: ignore[arg-type]
        return InferenceClient(provider=self.provider, api_key=token, timeout=timeout)  # type: ignore[arg-type]

    def complete(self, request: ChatRequest, *, timeout: float) -> Completion:
        """One call with at most `timeout` seconds per connect/read; raises `LLMCallError`."""
        try:
            output = self._client(timeout).chat_completion(
                [dict(m) for m in request.messages],
                model=self.model,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                **constraint_arguments(request.answer_format, request.schema),
            )
        except Exception as exc:  # every failure of the seam becomes one typed error, see classify
            raise self.classify(exc, constrained=request.answer_format is not AnswerFormat.NONE) from None
        return _completion(output)

    def classify(self, exc: Exception, *, constrained: bool = False) -> LLMCallError:
        """The typed error for anything `InferenceClient` raised, with the token scrubbed from its text.

        `constrained`: the request asked for an answer format, so an error naming it is `FORMAT_REFUSED`."""
        error = _classify(exc, constrained=constrained)
        if self._token:
            scrubbed = redact(str(error), [self._token.get_secret_value()])
            if scrubbed != str(error):
                error = LLMCallError(error.kind, scrubbed, status=error.status, retry_after=error.retry_after)
        return error


def _classify(exc: Exception, *, constrained: bool) -> LLMCallError:
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        text = exc.server_message or _body(exc.response)
        detail = _detail(text)
        message = f"HTTP {status} from the LLM endpoint" + (f": {detail}" if detail else "")
        retry_after = exc.response.headers.get("retry-after")
        if constrained and refuses_format(status, text):
            return LLMCallError(CallErrorKind.FORMAT_REFUSED, message, status=status)
        if status == 429:
            return LLMCallError(CallErrorKind.RATE_LIMITED, message, status=status, retry_after=retry_after)
        if status in (408, 504):
            return LLMCallError(CallErrorKind.TIMEOUT, message, status=status, retry_after=retry_after)
        if status >= 500:
            return LLMCallError(CallErrorKind.SERVER_ERROR, message, status=status, retry_after=retry_after)
        return LLMCallError(CallErrorKind.CLIENT_ERROR, message, status=status)
    if isinstance(exc, InferenceTimeoutError | httpx2.TimeoutException | TimeoutError):
        return LLMCallError(CallErrorKind.TIMEOUT, "the LLM endpoint did not answer within the timeout")
    if isinstance(exc, OfflineModeIsEnabled):
        return LLMCallError(CallErrorKind.CONFIG, "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set)")
    if isinstance(exc, httpx2.TransportError | ConnectionError):
        return LLMCallError(CallErrorKind.CONNECTION, f"connection to the LLM endpoint failed ({type(exc).__name__})")
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return LLMCallError(CallErrorKind.BAD_RESPONSE, "the LLM endpoint answered with a body that is not JSON")
    if isinstance(exc, ValueError) and "Invalid data type" in str(exc):
        return LLMCallError(CallErrorKind.BAD_RESPONSE, "the LLM endpoint answered with JSON of the wrong shape")
    if isinstance(exc, ValueError):
        # huggingface_hub refuses a request before sending it: an unknown provider, a router call
        # without a Hugging Face token, a model the provider does not serve.
        return LLMCallError(CallErrorKind.CONFIG, f"the LLM request cannot be made: {_detail(str(exc))}")
    return LLMCallError(CallErrorKind.BAD_RESPONSE, f"the LLM call failed: {type(exc).__name__}")


def _body(response: httpx2.Response) -> str:
    try:
        return response.text
    except (httpx2.ResponseNotRead, httpx2.StreamError, UnicodeDecodeError):
        return ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _detail(text: str | None) -> str:
    """A server's error text as one short line, secret shapes redacted (it ends up in logs and the
    decision's fallbacks, and a server may echo the request's headers)."""
    line = redact(" ".join(_CONTROL.sub(" ", text or "").split()))
    return line if len(line) <= _DETAIL_LIMIT else line[: _DETAIL_LIMIT - 1] + "…"


def _completion(output: Any) -> Completion:
    choices = getattr(output, "choices", None)
    if not isinstance(choices, list):
        raise LLMCallError(CallErrorKind.BAD_RESPONSE, "the LLM endpoint answered without a choices list")
    usage = getattr(output, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    prompt_tokens = prompt_tokens if isinstance(prompt_tokens, int) else None
    if not choices:
        return Completion(content=None, choices=0, prompt_tokens=prompt_tokens)
    first = choices[0]
    message = getattr(first, "message", None)
    content = getattr(message, "content", None)
    finish = getattr(first, "finish_reason", None)
    return Completion(
        content=content if isinstance(content, str) else None,
        choices=len(choices),
        finish_reason=finish if isinstance(finish, str) else None,
        prompt_tokens=prompt_tokens,
    )
