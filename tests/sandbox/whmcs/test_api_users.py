"""User actions (WHMCS 8): AddUser, GetUsers; users and clients are separate id sequences."""

from __future__ import annotations


async def test_seed_user_ids_never_equal_a_client_id(whmcs):
    assert not set(whmcs.store.users) & set(whmcs.store.clients)


async def test_add_user_then_own_a_client(api):
    body = await api.ok(
        "AddUser", firstname="Jiro", lastname="Kato", email="jiro.kato@example.jp",
        password2="jiro-pass-1",
    )  # fmt: skip
    user_id = body["user_id"]
    assert isinstance(user_id, str)  # adduser.md's example: "user_id": "1"
    listed = await api.ok("GetUsers", search="jiro")
    assert listed["totalresults"] == 1 and listed["numreturned"] == 1
    row = listed["users"][0]
    assert row["id"] == int(user_id) and row["clients"] == []
    login = await api.ok("ValidateLogin", email="jiro.kato@example.jp", password2="jiro-pass-1")
    assert login["userid"] == user_id


async def test_get_users_lists_ownership_and_invitations(api):
    body = await api.ok("GetUsers", search="aiko")
    assert body["users"][0]["clients"] == [{"id": 1, "isOwner": False}]
    owner = (await api.ok("GetUsers", search="Hanako Yamada"))["users"][0]
    assert owner["id"] == 11 and owner["clients"] == [{"id": 1, "isOwner": True}]
    everyone = await api.ok("GetUsers", limitnum=2, sorting="DESC")
    assert everyone["totalresults"] == 5 and [u["id"] for u in everyone["users"]] == [15, 14]


async def test_add_user_errors(api):
    form = {"firstname": "A", "lastname": "B", "email": "a.b@example.jp", "password2": "pw-1"}
    expected = {
        "firstname": "You did not enter a first name",
        "lastname": "You did not enter a last name",
        "email": "You did not enter an email address",
        "password2": "You did not enter a password",
    }
    for name, message in expected.items():
        assert await api.error("AddUser", {**form, name: ""}) == message
    assert await api.error("AddUser", {**form, "email": "a.b@"}) == (
        "The email address entered is not valid"
    )
    taken = {**form, "email": "kenji.sato@example.jp"}
    assert await api.error("AddUser", taken) == "A user already exists with that email address"
