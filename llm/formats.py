"""Which answer format a server knows: the forms to try, in order, and what each route was found to accept.

Servers disagree on how a JSON schema constrains an answer (see `llm.client.AnswerFormat`), and one that
does not know a form says so with an HTTP error (`FORMAT_REFUSED`). With `llm.structured_output: auto`
the LLM tier sends the first form a route has not refused; on a refusal it sends the same request again
in the next form, ending with no constraint (the answer is validated in code either way). A server that
accepts a form and ignores it cannot be detected this way: the order puts such a form after the one
that server enforces. What a route (endpoint, provider, model) refused and accepted is kept for the
process's life, so each refusal costs one request once, not one per pod. A pinned `structured_output`
is one form and never negotiates.

Pure mappings plus `FormatMemory`, a lock-guarded record; no I/O.
"""

import threading
from dataclasses import dataclass

from cluster.config import StructuredOutput
from llm.client import AnswerFormat

_PINNED: dict[str, AnswerFormat] = {
    "llamacpp": AnswerFormat.LLAMACPP,
    "vllm": AnswerFormat.VLLM,
    "none": AnswerFormat.NONE,
}


@dataclass(frozen=True)
class Route:
    """Where the requests go: a self-hosted `endpoint`, or the router's `provider`; and the model."""

    endpoint: str | None
    provider: str
    model: str


def candidates(mode: StructuredOutput, *, self_hosted: bool) -> tuple[AnswerFormat, ...]:
    """The forms to try for `mode`, best first.

    On the router `auto` tries OpenAI's form, then TGI's, llama.cpp's and vLLM's, then none. A self-hosted
    server never receives OpenAI's form (`InferenceClient` rewrites it into TGI's in `base_url` mode), and
    there llama.cpp's form goes first: llama.cpp accepts TGI's form but ignores its schema (measured with
    llama-cpp-python 0.3.36), which no refusal would reveal, while TGI's request types reject llama.cpp's
    form (its `response_format` lacks `value`: HTTP 422; read from TGI's code), which costs one request
    once. `response_format` pinned on an endpoint is that rewritten form, named for what goes on the wire.
    """
    if mode == "auto":
        if self_hosted:
            return (AnswerFormat.LLAMACPP, AnswerFormat.TGI, AnswerFormat.VLLM, AnswerFormat.NONE)
        return (AnswerFormat.JSON_SCHEMA, AnswerFormat.TGI, AnswerFormat.LLAMACPP, AnswerFormat.VLLM, AnswerFormat.NONE)
    if mode == "response_format":
        return (AnswerFormat.TGI,) if self_hosted else (AnswerFormat.JSON_SCHEMA,)
    return (_PINNED[mode],)


class FormatMemory:
    """The forms each route refused and the one it last accepted; thread-safe, kept for the process's life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: dict[Route, set[AnswerFormat]] = {}
        self._accepted: dict[Route, AnswerFormat] = {}

    def current(self, route: Route, forms: tuple[AnswerFormat, ...]) -> AnswerFormat:
        """The first of `forms` that `route` has not refused (the last is never recorded as refused)."""
        with self._lock:
            refused = self._refused.get(route, set())
            return next(form for form in forms if form not in refused or form is forms[-1])

    def refuse(self, route: Route, forms: tuple[AnswerFormat, ...], form: AnswerFormat) -> AnswerFormat | None:
        """Record that `route` refused `form`; the form to try next, or None when `form` was the last one."""
        if form is forms[-1]:
            return None
        with self._lock:
            self._refused.setdefault(route, set()).add(form)
            if self._accepted.get(route) is form:
                del self._accepted[route]
        return self.current(route, forms)

    def accept(self, route: Route, form: AnswerFormat) -> bool:
        """Record that `route` answered a request in `form`; True the first time (to log and report it once)."""
        with self._lock:
            if self._accepted.get(route) is form:
                return False
            self._accepted[route] = form
            return True

    def accepted(self, route: Route) -> AnswerFormat | None:
        """The form `route` last answered, if any."""
        with self._lock:
            return self._accepted.get(route)


PROCESS_MEMORY = FormatMemory()
"""What every route was found to accept in this process; `LLMTier.from_settings` shares it."""
