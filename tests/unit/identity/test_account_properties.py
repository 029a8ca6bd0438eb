"""Identity's Salesforce Account mapping (sign-up and link look-ups by customer number), on any
Account record Salesforce can send (hypothesis): the SOQL names exactly the customer number typed,
and the account read back, live or from its cached form, keeps every field."""

from __future__ import annotations

from typing import Any, cast

from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from sandbox.salesforce.soql import Compare, Literal, parse
from services.identity.customers import Customers, SfAccount

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
# As the flows pass it: stripped and non-empty (sign-up refuses a blank one, link reads none).
NUMBERS = TEXT.map(str.strip).filter(bool)
SF_IDS = st.text("0123456789ABCDEFabcdef", min_size=15, max_size=15).map(lambda s: "001" + s)
ACCOUNTS = st.fixed_dictionaries(
    {"Id": SF_IDS},
    optional={
        "Name": TEXT | st.none(),
        "Portal_Status__c": st.sampled_from(["Active", "Inactive"]) | TEXT | st.none(),
    },
)


class OneAccount:
    """Salesforce with at most one Account for the number asked (the query has LIMIT 1)."""

    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record
        self.queries: list[str] = []

    async def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        self.queries.append(soql)
        return [self.record] if self.record is not None else []


class SerializingCache:
    """Hands back the cached form (the serialized message), as a Redis hit would."""

    async def get_or_load(
        self, entry: Any, scope: Any, loader: Any, message_type: Any, **options: Any
    ) -> Any:
        loaded = cast(Message, await loader())
        return message_type.FromString(loaded.SerializeToString())


def customers(sf: OneAccount) -> Customers:
    return Customers(pool=None, sf=sf, cache=SerializingCache())  # type: ignore[arg-type]


@given(NUMBERS, ACCOUNTS, st.booleans())
async def test_an_account_reads_back_with_every_field(
    number: str, record: dict[str, Any], cached: bool
) -> None:
    sf = OneAccount(record)
    account = await customers(sf).find(number, cached=cached)
    assert account == SfAccount(
        record["Id"], record.get("Name") or "", number, record.get("Portal_Status__c") or ""
    )
    (query,) = sf.queries
    where = parse(query).where
    assert where == Compare("SF_Account_No__c", "=", (Literal("string", number),))


@given(NUMBERS, st.booleans())
async def test_an_unknown_number_is_no_account(number: str, cached: bool) -> None:
    assert await customers(OneAccount(None)).find(number, cached=cached) is None
