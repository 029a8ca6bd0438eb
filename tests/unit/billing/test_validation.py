"""Update masks and profile validation."""

from __future__ import annotations

import pytest
from portal.billing.v1 import billing_pb2 as pb
from portal.common.v1 import types_pb2

from services.billing import validation as rules
from services.common.errors import ValidationFailed

CURRENT = pb.BillingProfile(
    first_name="Hanako", last_name="Yamada", email="hanako@example.jp", phone="+81.312345678",
    address=types_pb2.Address(line1="1-2-3", city="Shibuya-ku", postcode="150-0001", country="JP"),
)  # fmt: skip


def test_mask_normalisation() -> None:
    assert rules.normalise_mask(["firstName", "address.postcode"]) == [
        "address.postcode",
        "first_name",
    ]
    assert len(rules.normalise_mask(["address"])) == len(rules.ADDRESS_FIELDS)
    for bad in (["password"], ["address.planet"], [], ["first_name.x"]):
        with pytest.raises(ValidationFailed):
            rules.normalise_mask(bad)


def test_apply_takes_only_masked_fields() -> None:
    update = pb.BillingProfile(first_name="X", last_name="Sato ", address={"country": "us"})
    merged = rules.apply(CURRENT, update, ["address.country", "last_name"])
    assert (merged.first_name, merged.last_name, merged.address.country) == ("Hanako", "Sato", "US")
    assert rules.whmcs_fields(merged, ["address.country", "last_name"]) == {
        "country": "US",
        "lastname": "Sato",
    }


@pytest.mark.parametrize(
    ("path", "value", "ok"),
    [
        ("email", "a@b.jp", True), ("email", "a@b", False), ("phone", "+81 3-1234-5678", True),
        ("phone", "+81.312345678", True), ("phone", "12", False), ("phone", "call me", False),
        ("address.country", "JP", True), ("address.country", "JPN", False),
        ("address.postcode", "1500001", True), ("address.postcode", "15-0001", False),
        ("first_name", "", False), ("company_name", "", True), ("address.line2", "", True),
        ("last_name", "x" * 101, False),
    ],
)  # fmt: skip
def test_validation(path: str, value: str, ok: bool) -> None:
    update = pb.BillingProfile()
    head, _, leaf = path.partition(".")
    setattr(update.address if leaf else update, leaf or head, value)
    merged = rules.apply(CURRENT, update, [path])
    if ok:
        rules.validate(merged, [path])
    else:
        with pytest.raises(ValidationFailed) as caught:
            rules.validate(merged, [path])
        assert [v.field for v in caught.value.violations] == [f"profile.{path}"]


def test_postcode_rule_follows_country() -> None:
    merged = rules.apply(
        CURRENT, pb.BillingProfile(address={"country": "GB", "postcode": "SW1A 1AA"}),
        ["address.country", "address.postcode"],
    )  # fmt: skip
    rules.validate(merged, ["address.country", "address.postcode"])
