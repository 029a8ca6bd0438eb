"""Billing profile updates (hypothesis): a control character in any free-text field is refused
on that field, and every address the rules accept comes back unchanged on the orders placed with
it (checkout writes one Salesforce BillingStreet, which a line break inside line1 would split)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from portal.billing.v1 import billing_pb2 as pb
from portal.common.v1 import types_pb2

from services.billing import validation as rules
from services.commerce.mapping import billing_fields, order_from_record
from services.common.errors import ValidationFailed

CURRENT = pb.BillingProfile(
    first_name="Hanako", last_name="Yamada", email="hanako@example.jp", phone="+81.312345678",
    address=types_pb2.Address(line1="1-2-3", city="Shibuya-ku", state="Tokyo",
                              postcode="150-0001", country="JP"),
)  # fmt: skip
FREE_TEXT = ["first_name", "last_name", "company_name", "address.line1", "address.line2",
             "address.city", "address.state"]  # fmt: skip
# Any text, and often two words with something between them that separates lines or words.
WORD = st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=10)
SEPARATOR = st.sampled_from(["\n", "\r\n", "\t", "\x00", "\x85", "\u2028", " ", "-"])
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=rules.MAX_LENGTH) | st.builds(
    lambda a, sep, b: a + sep + b, WORD, SEPARATOR, WORD
)
CONTROL = st.characters(categories=["Cc"])


def _update(path: str, value: str) -> pb.BillingProfile:
    update = pb.BillingProfile()
    head, _, leaf = path.partition(".")
    setattr(update.address if leaf else update, leaf or head, value)
    return update


@given(st.sampled_from(FREE_TEXT), ANY_TEXT, CONTROL, st.data())
def test_a_control_character_is_refused_on_its_field(
    path: str, text: str, control: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(text)), label="at")
    value = f"{text[:at]}x{control}x{text[at:]}"[: rules.MAX_LENGTH]
    if "x" + control + "x" not in value:
        value = "x" + control + "x"
    merged = rules.apply(CURRENT, _update(path, value), [path])
    try:
        rules.validate(merged, [path])
    except ValidationFailed as failed:
        assert [v.field for v in failed.violations] == [f"profile.{path}"]
    else:
        raise AssertionError(f"{value!r} accepted in {path}")


@given(st.lists(st.sampled_from(FREE_TEXT), min_size=1, unique=True), st.data())
def test_accepted_addresses_come_back_unchanged_on_orders(
    paths: list[str], data: st.DataObject
) -> None:
    update = pb.BillingProfile()
    for path in paths:
        update.MergeFrom(_update(path, data.draw(ANY_TEXT, label=path)))
    merged = rules.apply(CURRENT, update, paths)
    try:
        rules.validate(merged, paths)
    except ValidationFailed:
        return  # refused: nothing reaches WHMCS or an order
    order = order_from_record(billing_fields(merged.address), [])
    assert order.billing_address == merged.address
