"""The JSON check every body from outside goes through (API bodies, webhook deliveries)."""

import pytest

from inventory_hub.json_input import MAX_JSON_DEPTH, UnacceptableJson, load_json


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "the body is nested deeper than 64 levels"),
        (b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", "a" + "[0]" * 63 + ": nested deeper than 64"),
        (b'{"a": {"b": "x\\u0000y"}}', "a.b: contains NUL"),
        (b'{"a\\u0000": 1}', "a\\u0000: a key contains NUL"),
        (b'{"q": [1, 1180591620717411303424]}', "q[1]: 1180591620717411303424 is out of range"),
        (b'{"q": 1e308}', "q: 1e+308 is out of range"),
        (b'{"q": 1e999}', "q: inf is out of range"),
        (b'{"q": NaN}', "NaN is not a JSON number"),
        (b'{"q": -Infinity}', "-Infinity is not a JSON number"),
    ],
)
def test_bodies_the_hub_cannot_take_are_refused_naming_where(body, message):
    with pytest.raises(UnacceptableJson) as refused:
        load_json(body)

    assert message in str(refused.value)


def test_a_body_at_the_limits_is_taken_as_json_loads_reads_it():
    body = (
        b'{"deep": '
        + b"[" * (MAX_JSON_DEPTH - 1)
        + b"]" * (MAX_JSON_DEPTH - 1)
        + b', "big": 9223372036854775807, "small": -9.2e18, "text": "\\u0001", "ok": true}'
    )

    value = load_json(body)

    assert value["big"] == 2**63 - 1
    assert value["text"] == "\x01"


def test_without_values_only_the_depth_is_checked():
    assert load_json('{"a\\u0000": 1e308, "b": 1180591620717411303424}', values=False) == {
        "a\x00": 1e308,
        "b": 2**70,
    }
    with pytest.raises(UnacceptableJson):
        load_json("[" * 65 + "]" * 65, values=False)
