"""User actions (WHMCS 8): AddUser and GetUsers. A user is a login apart from any client."""

from __future__ import annotations

import re
from typing import Any

from sandbox.whmcs.context import Ctx, Handler
from sandbox.whmcs.models import User, hash_password
from sandbox.whmcs.phpform import Params
from sandbox.whmcs.wire import ApiError, success, ymd_hms

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_REQUIRED = (
    ("firstname", "You did not enter a first name"),
    ("lastname", "You did not enter a last name"),
    ("email", "You did not enter an email address"),
    ("password2", "You did not enter a password"),
)


def add_user(ctx: Ctx, p: Params) -> dict[str, Any]:
    for name, message in _REQUIRED:
        if not p.text(name):
            raise ApiError(message)
    email = p.text("email")
    if not _EMAIL.match(email):
        raise ApiError("The email address entered is not valid")
    if ctx.store.user_by_email(email) is not None:
        raise ApiError("A user already exists with that email address")
    user = User(
        id=ctx.store.next_id("user"), firstname=p.text("firstname"), lastname=p.text("lastname"),
        email=email, password_hash=hash_password(p.text("password2")), datecreated=ctx.now(),
    )  # fmt: skip
    ctx.store.users[user.id] = user
    return success(user_id=str(user.id))


def _matches(user: User, term: str) -> bool:
    """``search`` looks at the start of email, firstname, lastname or fullname."""
    fullname = f"{user.firstname} {user.lastname}"
    fields = (user.email, user.firstname, user.lastname, fullname)
    return any(f.lower().startswith(term) for f in fields)


def _row(ctx: Ctx, user: User) -> dict[str, Any]:
    clients = [{"id": c.id, "isOwner": owner} for c, owner in ctx.store.clients_of_user(user.id)]
    return {
        "id": user.id, "firstname": user.firstname, "lastname": user.lastname,
        "email": user.email, "datecreated": ymd_hms(user.datecreated), "validationdata": "",
        "clients": clients,
    }  # fmt: skip


def get_users(ctx: Ctx, p: Params) -> dict[str, Any]:
    descending = p.text("sorting").upper() == "DESC"
    rows = sorted(ctx.store.users.values(), key=lambda u: u.id, reverse=descending)
    term = p.text("search").lower()
    if term:
        rows = [u for u in rows if _matches(u, term)]
    start, limit = p.window()
    page = rows[start : start + limit]
    return success(
        totalresults=len(rows),
        startnumber=start,
        numreturned=len(page),
        users=[_row(ctx, u) for u in page],
    )


ACTIONS: dict[str, Handler] = {"AddUser": add_user, "GetUsers": get_users}
