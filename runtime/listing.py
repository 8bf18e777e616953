"""A list response read one item at a time, from its bytes as they arrive.

`runtime.kube` lists pods and nodes through this: iterating a `Listing` gives what
`json.loads(body)["items"]` holds, decoding each item from a buffer refilled chunk by chunk from the
connection, so the body (110 MB for 51,000 running pods with their kubelet status) never exists whole next to
its decoded objects, and decoding overlaps the server's sending. The informers hand each item to their handlers
as soon as it is decoded, so the list's objects never exist all at once either. The body is read as fast as
the handlers parse (~90 us a pod with decoding: ~14 s at Kubernetes' 150,000-pod limit, inside an API server's
60 s request timeout).
Pure: the chunks come from the caller.
"""

import codecs
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

CHUNK_BYTES = 1 << 16
"""How much of a response is read at a time."""

_decoder = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


class _Text:
    """The body as a sliding window of text: what has arrived and not yet been consumed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._source = chunks
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.at = 0
        self.ended = False

    def _more(self) -> None:
        """Drop what was consumed and append the next chunk (or note the end)."""
        chunk = next(self._chunks, None)
        if chunk is None:
            self.ended = True
        tail = self._utf8.decode(chunk or b"", final=chunk is None)
        self.text = self.text[self.at :] + tail
        self.at = 0

    def close(self) -> None:
        """Close the chunks' source if it can be closed (a generator's `finally` runs), read through or not."""
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            text, at = self.text, self.at
            while at < len(text) and text[at] in _WHITESPACE:
                at += 1
            self.at = at
            if at < len(text) or self.ended:
                return text[at : at + 1]
            self._more()

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise json.JSONDecodeError(f"Expecting {char!r}", self.text, self.at)
        self.at += 1

    def value(self) -> Any:
        """The next JSON value. One that ends exactly where the text does may be cut (a number, say): it
        is decoded again with more text, as is one that fails before the end has arrived."""
        self.peek()
        while True:
            try:
                value, end = _decoder.raw_decode(self.text, self.at)
                if end < len(self.text) or self.ended:
                    self.at = end
                    return value
            except json.JSONDecodeError:
                if self.ended:
                    raise
            self._more()


class Listing:
    """A list response's `items`, decoded as they are iterated, and its `resource_version`.

    `resource_version` is the list's, set once its metadata has been read (API servers send it before
    the items). Iterate once; the chunks' source is closed when the iteration ends or fails. Malformed
    JSON raises `json.JSONDecodeError` (a ValueError), as `json.loads` would, when the iteration
    reaches it.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.resource_version: str | None = None

    def __iter__(self) -> Iterator[Any]:
        body = _Text(self._chunks)
        try:
            yield from self._read(body)
        finally:
            body.close()

    def _read(self, body: _Text) -> Iterator[Any]:
        body.take("{")
        if body.peek() != "}":
            while True:
                if body.peek() != '"':
                    raise json.JSONDecodeError("Expecting property name enclosed in double quotes", body.text, body.at)
                key = body.value()
                body.take(":")
                if key == "items" and body.peek() == "[":
                    yield from self._items(body)
                else:
                    value = body.value()
                    if key == "metadata" and isinstance(value, Mapping):
                        self.resource_version = value.get("resourceVersion")
                if body.peek() != ",":
                    break
                body.take(",")
        body.take("}")
        if body.peek():
            raise json.JSONDecodeError("Extra data", body.text, body.at)

    @staticmethod
    def _items(body: _Text) -> Iterator[Any]:
        body.take("[")
        if body.peek() == "]":
            body.take("]")
            return
        while True:
            yield body.value()
            if body.peek() != ",":
                break
            body.take(",")
        body.take("]")


def chunks(response: Any, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """A raw urllib3 response's body as it arrives; its connection back to the pool once read through, else
    closed (what is left unread would otherwise reach the next request on that connection)."""
    completed = False
    try:
        yield from response.stream(size)
        completed = True
    finally:
        if completed:
            response.release_conn()
        else:
            response.close()
