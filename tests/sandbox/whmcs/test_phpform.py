"""PHP form parsing and base64(serialize()) fields, without HTTP."""

from __future__ import annotations

import base64

import phpserialize
from hypothesis import given
from hypothesis import strategies as st

from sandbox.whmcs.phpform import Params, php_b64_decode, php_b64_encode


def test_bracket_arrays():
    p = Params(
        [
            ("pid[1]", "14"),
            ("pid[0]", "12"),
            ("qty[]", "1"),
            ("qty[]", "3"),
            ("email_preferences[invoice]", "1"),
            ("clientid", "7"),
        ]
    )
    assert p.list("pid") == ["12", "14"]
    assert p.list("qty") == ["1", "3"]
    assert p.mapping("email_preferences") == {"invoice": "1"}
    assert p.list("clientid") == ["7"] and p.int("clientid") == 7
    assert p.list("missing") == []


def test_php_casts():
    p = Params([("a", "12abc"), ("b", "x"), ("t", "true"), ("f", "0")])
    assert p.int("a") == 12 and p.int("b") == 0
    assert p.flag("t") and not p.flag("f") and not p.flag("nope")


def test_serialized_custom_fields_roundtrip():
    raw = base64.b64encode(phpserialize.dumps({198: "AC-000101", "12": 5})).decode()
    assert php_b64_decode(raw) == {"198": "AC-000101", "12": "5"}
    assert php_b64_decode("not base64 at all!") is None
    assert php_b64_decode(base64.b64encode(b's:3:"abc";').decode()) is None  # not an array


@given(st.dictionaries(st.integers(1, 10_000), st.text(max_size=20), max_size=5))
def test_encode_decode_property(values):
    decoded = php_b64_decode(php_b64_encode(values))
    assert decoded == {str(k): v for k, v in values.items()} or (
        not values and decoded in ({}, None)
    )
