"""Client actions, credentials and error shapes."""

from __future__ import annotations

from sandbox.whmcs import php_b64_encode

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


async def test_validate_login(api):
    body = await api.ok(
        "ValidateLogin", email="hanako.yamada@example.jp", password2="demo-password-1"
    )
    assert body["userid"] == 1
    assert body["twoFactorEnabled"] is False
    assert "demo-password-1" not in body["passwordhash"]
    wrong = await api.error("ValidateLogin", email="hanako.yamada@example.jp", password2="x")
    assert wrong == "Email or Password Invalid"
    unknown = await api.error("ValidateLogin", email="nobody@example.jp", password2="x")
    assert unknown == "Email or Password Invalid"


async def test_add_client_with_base64_custom_fields(api, whmcs):
    fields = php_b64_encode({198: "AC-000102"})
    body = await api.ok("AddClient", {**NEW_CLIENT, "customfields": fields})
    assert isinstance(body["clientid"], str)
    client_id = int(body["clientid"])
    assert client_id == 4
    stored = whmcs.store.clients[client_id]
    assert "s3cret-pass" not in stored.password_hash
    details = await api.ok("GetClientsDetails", clientid=client_id)
    assert details["client"]["customfields"] == [{"id": 198, "value": "AC-000102"}]
    assert details["client"]["countrycode"] == "JP"
    login = await api.ok("ValidateLogin", email=NEW_CLIENT["email"], password2="s3cret-pass")
    assert login["userid"] == client_id


async def test_add_client_errors(api):
    existing = {**NEW_CLIENT, "email": "HANAKO.yamada@example.jp"}
    assert await api.error("AddClient", existing) == "A user already exists with that email address"
    no_email = {**NEW_CLIENT, "email": ""}
    assert await api.error("AddClient", no_email) == "You did not enter your email address"
    bad_country = {**NEW_CLIENT, "country": "Japan"}
    assert await api.error("AddClient", bad_country) == "Valid country required"
    banned = {**NEW_CLIENT, "email": "x@mailinator.com"}
    message = await api.error("AddClient", banned)
    assert message == "The email address entered is not available for use."


async def test_get_clients_details_shapes(api):
    body = await api.ok("GetClientsDetails", email="hanako.yamada@example.jp", stats="true")
    client = body["client"]
    assert client["id"] == 1 and body["userid"] == 1
    assert client["currency_code"] == "JPY"
    assert client["customfields"] == [{"id": 198, "value": "AC-000101"}]
    stats = body["stats"]
    assert stats["numdueinvoices"] == "2" and stats["numoverdueinvoices"] == "1"
    assert stats["productsnumactive"] == 1  # an int, next to string counters
    assert await api.error("GetClientsDetails", clientid=999) == "Client Not Found"


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


async def test_update_client_errors(api):
    duplicate = await api.error("UpdateClient", clientid=2, email="hanako.yamada@example.jp")
    assert duplicate == "Duplicate Email Address"
    assert await api.error("UpdateClient", clientid=999, city="x") == "Client ID Not Found"
