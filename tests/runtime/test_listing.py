"""A list response decoded one item at a time from its chunks: the same items as decoding it whole."""

import json

import pytest

from runtime.listing import Listing


def chunked(text: str, size: int) -> list[bytes]:
    data = text.encode()
    return [data[i : i + size] for i in range(0, len(data), size)]


SIZES = [pytest.param(1, id="byte by byte"), pytest.param(7, id="7-byte chunks"), pytest.param(1 << 16, id="whole")]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            '{"kind":"PodList","metadata":{"resourceVersion":"12"},"items":[{"a":1},{"b":[1,2]}]}',
            id="metadata before items",
        ),
        pytest.param(
            '{"items":[{"x":"]},{"}],"metadata":{"resourceVersion":"9","continue":""}}\n',
            id="items before metadata, brackets inside strings",
        ),
        pytest.param(' {\n "items" : [ ] ,\t"metadata" : { } } ', id="whitespace everywhere, no items"),
        pytest.param('{"items":[{"a":1},\n {"b":"x, y"} ,{"c":{}}]}', id="whitespace between items"),
        pytest.param('{"items":null,"metadata":{"resourceVersion":"3"}}', id="null items"),
        pytest.param("{}", id="an empty object"),
        pytest.param(
            '{"metadata":{"resourceVersion":"5"},"items":[{"metadata":{"resourceVersion":"1"}}]}',
            id="an item's own resourceVersion is not the list's",
        ),
    ],
)
@pytest.mark.parametrize("size", SIZES)
def test_a_listing_holds_what_decoding_the_whole_body_gives(text, size):
    listing = Listing(chunked(text, size))
    whole = json.loads(text)
    assert list(listing) == (whole.get("items") or [])
    assert listing.resource_version == (whole.get("metadata") or {}).get("resourceVersion")


@pytest.mark.parametrize(
    "text",
    ["", "[", '{"items":[1 2]}', '{"items":[1,]}', '{"a":1 "b":2}', '{"a":1,}', '{"a":1}x', "{1:2}", '{"items":[1]'],
)
@pytest.mark.parametrize("size", SIZES)
def test_a_listing_rejects_what_json_loads_rejects(text, size):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        list(Listing(chunked(text, size)))


def test_a_number_cut_by_a_chunk_is_read_whole():
    listing = Listing([b'{"items":[{"n":1', b'23}],"metadata":{"resourceVersion":"4"}, "count": 12', b"34}"])
    assert list(listing) == [{"n": 123}]


def test_a_character_cut_by_a_chunk_is_read_whole():
    text = '{"items":[{"name":"caf\u00e9 \u2603"}]}'
    assert list(Listing(chunked(json.dumps(json.loads(text), ensure_ascii=False), 1))) == json.loads(text)["items"]


def test_the_source_is_closed_when_the_iteration_ends_early():
    closed = []

    def chunks():
        try:
            yield b'{"items":[{"a":1},'
            yield b'{"b":'
            yield b"oops"
        finally:
            closed.append(True)

    with pytest.raises(ValueError):
        list(Listing(chunks()))
    assert closed == [True]
