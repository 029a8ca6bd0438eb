"""Client actions, credentials and error shapes."""

from __future__ import annotations

import httpx

from sandbox.whmcs import php_b64_encode, start_whmcs
from sandbox.whmcs.settings import settings_from_env
from tests.sandbox.whmcs.conftest import Api

NEW_CLIENT = {
    "firstname": "Taro",
    "lastname": "Suzuki",
    "email": "taro.suzuki@example.jp",
    "address1": "1-1 Marunouchi",
    "city": "Chiyoda-ku",
    "state": "Tokyo",
    "postcode": "100-0005",
    "country": "JP",
    "phonenumber": "+81.300000000",
    "password2": "s3cret-pass",
}


async def test_bad_credentials_are_refused_with_403(api):
    response = await api.call("GetInvoices", creds=False, identifier="portal-dev", secret="nope")
    assert response.status_code == 403
    assert response.json() == {"result": "error", "message": "Authentication Failed"}
    missing = await api.call("GetInvoices", creds=False)
    assert missing.status_code == 403


async def test_unknown_action_is_an_error_with_http_200(api):
    assert await api.error("NoSuchAction") == "Command Not Found"


async def test_validate_login_proves_a_user_not_a_client(api):
    body = await api.ok(
        "ValidateLogin", email="hanako.yamada@example.jp", password2="demo-password-1"
    )
    # validatelogin.md's example: userid and twoFactorEnabled are strings; the id is the user's
    assert body["userid"] == "11" and body["twoFactorEnabled"] == "false"
    assert "demo-password-1" not in body["passwordhash"]
    wrong = await api.error("ValidateLogin", email="hanako.yamada@example.jp", password2="x")
    assert wrong == "Email or Password Invalid"
    unknown = await api.error("ValidateLogin", email="nobody@example.jp", password2="x")
    assert unknown == "Email or Password Invalid"
    empty = await api.error("ValidateLogin", email="hanako.yamada@example.jp", password2="")
    assert empty == "Email or Password Invalid"


async def test_validate_login_of_a_two_factor_user_has_no_session_hash(api):
    body = await api.ok("ValidateLogin", email="mei.tanaka@example.jp", password2="demo-password-5")
    assert body["userid"] == "15" and body["twoFactorEnabled"] == "true"
    assert "passwordhash" not in body


async def test_add_client_with_base64_custom_fields(api, whmcs):
    fields = php_b64_encode({198: "AC-000102"})
    body = await api.ok("AddClient", {**NEW_CLIENT, "customfields": fields})
    assert isinstance(body["clientid"], str)
    client_id = int(body["clientid"])
    assert client_id == 5
    stored = whmcs.store.clients[client_id]
    owner = whmcs.store.users[stored.owner_user_id]
    assert owner.email == NEW_CLIENT["email"] and owner.id != client_id
    assert "s3cret-pass" not in owner.password_hash
    details = await api.ok("GetClientsDetails", clientid=client_id)
    assert details["client"]["customfields"] == [{"id": 198, "value": "AC-000102"}]
    assert details["client"]["countrycode"] == "JP"
    assert details["client"]["owner_user_id"] == owner.id
    login = await api.ok("ValidateLogin", email=NEW_CLIENT["email"], password2="s3cret-pass")
    assert login["userid"] == str(owner.id)


async def test_add_client_for_an_existing_owner_makes_no_user(api, whmcs):
    users_before = set(whmcs.store.users)
    form = {**NEW_CLIENT, "email": "second.account@example.jp", "owner_user_id": "11"}
    del form["password2"]
    client_id = int((await api.ok("AddClient", form))["clientid"])
    assert set(whmcs.store.users) == users_before
    listed = await api.ok("GetUsers", search="hanako.yamada@example.jp")
    clients = listed["users"][0]["clients"]
    assert {"id": client_id, "isOwner": True} in clients and {"id": 1, "isOwner": True} in clients
    bad_owner = {**form, "email": "third@example.jp", "owner_user_id": "999"}
    assert await api.error("AddClient", bad_owner) == "Invalid Owner User ID"


async def test_add_client_errors(api):
    existing = {**NEW_CLIENT, "email": "HANAKO.yamada@example.jp"}
    assert await api.error("AddClient", existing) == "A user already exists with that email address"
    no_email = {**NEW_CLIENT, "email": ""}
    assert await api.error("AddClient", no_email) == "You did not enter your email address"
    not_email = {**NEW_CLIENT, "email": "taro@"}
    assert await api.error("AddClient", not_email) == "The email address you entered was not valid"
    bad_country = {**NEW_CLIENT, "country": "Japan"}
    assert await api.error("AddClient", bad_country) == "Valid country required"
    banned = {**NEW_CLIENT, "email": "x@mailinator.com"}
    message = await api.error("AddClient", banned)
    assert message == "The email address entered is not available for use."


async def test_add_client_required_fields(api):
    expected = {
        "firstname": "You did not enter your first name",
        "lastname": "You did not enter your last name",
        "address1": "You did not enter your  address line 1",
        "city": "You did not enter your city",
        "state": "You did not enter your state",
        "postcode": "You did not enter your postcode",
        "phonenumber": "You did not enter your phone number",
        "password2": "You did not enter a password",
    }
    for name, message in expected.items():
        assert await api.error("AddClient", {**NEW_CLIENT, name: ""}) == message, name
    bad_phone = {**NEW_CLIENT, "phonenumber": "call me"}
    assert await api.error("AddClient", bad_phone) == "Invalid telephone phone number"


async def test_skipvalidation_skips_the_profile_but_not_email_and_password(api):
    bare = {"email": "bare@example.jp", "country": "JP", "skipvalidation": "1"}
    assert await api.error("AddClient", bare) == "You did not enter a password"
    assert await api.error("AddClient", {**bare, "email": ""}) == (
        "You did not enter your email address"
    )
    await api.ok("AddClient", {**bare, "password2": "s3cret-pass"})


async def test_get_clients_details_shapes(api):
    body = await api.ok("GetClientsDetails", email="hanako.yamada@example.jp", stats="true")
    client = body["client"]
    assert client["id"] == 1 and client["client_id"] == 1 and body["userid"] == 1
    assert client["owner_user_id"] == 11 and client["defaultgateway"] == ""
    assert client["users"] == {"user": [
        {"id": 11, "name": "Hanako Yamada", "email": "hanako.yamada@example.jp", "is_owner": True},
        {"id": 14, "name": "Aiko Yamada", "email": "aiko.yamada@example.jp", "is_owner": False},
    ]}  # fmt: skip
    assert client["phonenumber"] == "+81.312345678"
    assert client["phonenumberformatted"] == "+81.312345678" and client["phonecc"] == "81"
    assert client["email_preferences"]["invoice"] == "1"  # strings, as in the example
    assert client["currency_code"] == "JPY"
    assert client["customfields"] == [{"id": 198, "value": "AC-000101"}]
    stats = body["stats"]
    assert stats["numdueinvoices"] == 2 and stats["numoverdueinvoices"] == 1  # ints
    assert stats["productsnumactive"] == 1
    assert stats["dueinvoicesbalance"] == "¥14,300.00 JPY"  # amounts: formatted strings
    assert await api.error("GetClientsDetails", clientid=999) == "Client Not Found"
    assert await api.error("GetClientsDetails") == "Either clientid Or email Is Required"


async def test_client_without_customer_number_has_empty_field(api):
    body = await api.ok("GetClientsDetails", clientid=3)
    assert body["client"]["customfields"] == [{"id": 198, "value": ""}]


async def test_update_client(api, whmcs):
    form = [
        ("clientid", "2"),
        ("address1", "9-9 Namba"),
        ("email_preferences[invoice]", "0"),
        ("password2", "new-password"),
    ]
    body = await api.ok("UpdateClient", form)
    assert body["clientid"] == "2"
    client = whmcs.store.clients[2]
    assert client.address1 == "9-9 Namba"
    assert client.email_preferences["invoice"] == 0
    assert client.email_preferences["general"] == 1
    await api.ok("ValidateLogin", email="kenji.sato@example.jp", password2="new-password")
    closed = await api.ok("UpdateClient", clientid=2, status="Inactive")
    assert closed["clientid"] == "2" and client.status == "Inactive"


async def test_update_client_sets_the_default_gateway(api):
    await api.ok("UpdateClient", clientid=2, paymentmethod="banktransfer")
    details = await api.ok("GetClientsDetails", clientid=2)
    assert details["client"]["defaultgateway"] == "banktransfer"


async def test_close_client(api, whmcs):
    body = await api.ok("CloseClient", clientid=1)
    assert body["result"] == "success"
    assert whmcs.store.clients[1].status == "Closed"
    assert {i.status for i in whmcs.store.invoices.values() if i.userid == 1} == {
        "Paid", "Cancelled"
    }  # fmt: skip
    assert whmcs.store.services[1].status == "Terminated"
    assert await api.error("CloseClient", clientid=999) == "Client ID Not Found"


async def test_update_client_errors(api):
    duplicate = await api.error("UpdateClient", clientid=2, email="hanako.yamada@example.jp")
    assert duplicate == "Duplicate Email Address"
    invalid = await api.error("UpdateClient", clientid=2, email="kenji@")
    assert invalid == "The email address entered is not valid"
    gateway = await api.error("UpdateClient", clientid=2, paymentmethod="paypal")
    assert gateway.startswith("Invalid Payment Method.")
    assert await api.error("UpdateClient", clientid=999, city="x") == "Client ID Not Found"


async def test_phone_numbers_are_stored_as_entered_or_in_whmcs_form_when_set():
    """WHMCS's "Phone Numbers" setting stores a saved number as ``+<calling code>.<number>``."""
    assert settings_from_env({}).phone_numbers_formatted is False
    for raw, expected in (("1", True), ("true", True), ("0", False), ("false", False)):
        env = {"WHMCS_SANDBOX_PHONE_NUMBERS_FORMATTED": raw}
        assert settings_from_env(env).phone_numbers_formatted is expected
    for formatted, stored in ((False, "03-9999-0000"), (True, "+81.399990000")):
        running = await start_whmcs(port=0, webhook_url="", phone_numbers_formatted=formatted)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                api = Api(http)
                await api.ok("UpdateClient", clientid=1, phonenumber=" 03-9999-0000 ")
                body = await api.ok("GetClientsDetails", clientid=1)
        finally:
            await running.stop()
        assert body["client"]["phonenumber"] == stored
        assert body["client"]["phonenumberformatted"] == "+81.399990000"
