"""Sign-in protection (repros 2 and 3 of the security review) and account recovery by e-mail.

- Attempts are counted atomically before the password is checked: 20 concurrent wrong
  passwords get at most the limit of checks.
- Every spelling of an address that NFKC + case folding makes equal shares one user and one
  lockout; a spelling that does not (``İ``) reaches no user at all.
- Linking counts against the same per-account limit as login.
- The owner of a locked account gets back in through the reset e-mail; a reset or a password
  change revokes the old sessions.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import grpc
from portal.identity.v1 import identity_pb2 as pb

from sandbox.mail import RunningMail
from services.identity.server import Deps
from tests.helpers.sandboxes import SandboxControl, mail_messages, mailed_code
from tests.service.identity.helpers import fails_with, make_user, meta, stub

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
LIMITED = (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
WRONG = (grpc.StatusCode.UNAUTHENTICATED, "INVALID_CREDENTIALS")


def reason(error: BaseException) -> str:
    assert isinstance(error, grpc.aio.AioRpcError), error
    return str(error.code().name)


async def test_concurrent_wrong_passwords_get_at_most_the_limit_of_checks(
    channel: grpc.aio.Channel, deps: Deps
) -> None:
    email = f"race.{uuid.uuid4().hex[:8]}@example.jp"
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    calls = [s.Login(pb.LoginRequest(email=email, password=f"wrong guess {i}"), metadata=meta())
             for i in range(20)]  # fmt: skip
    results = await asyncio.gather(*calls, return_exceptions=True)
    codes = [reason(r) for r in results]
    assert codes.count("UNAUTHENTICATED") <= 5, codes
    assert codes.count("UNAUTHENTICATED") + codes.count("RESOURCE_EXHAUSTED") == 20
    await fails_with(s.Login(pb.LoginRequest(email=email, password=PASSWORD)), *LIMITED)


async def lock(channel: grpc.aio.Channel, email: str) -> None:
    for _ in range(5):
        req = pb.LoginRequest(email=email, password="not the password")
        await fails_with(stub(channel).Login(req, metadata=meta()), *WRONG)


async def test_spellings_share_one_lockout(channel: grpc.aio.Channel, deps: Deps) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"ikuko.{tag}@example.jp"
    await make_user(deps, email, PASSWORD)
    await lock(channel, email)
    s = stub(channel)
    # Case and width variants are the same address: locked like it.
    fullwidth = "\uff29\uff2b\uff35\uff2b\uff2f"  # "IKUKO" in full-width letters
    for spelling in (email.upper(), f"{fullwidth}.{tag}@example.jp", f" Ikuko.{tag}@EXAMPLE.jp "):
        req = pb.LoginRequest(email=spelling, password=PASSWORD)
        await fails_with(s.Login(req, metadata=meta()), *LIMITED)
    # "İ" (U+0130) folds to "i̇", not "i": that spelling is no user, so it cannot sign in.
    dotted = pb.LoginRequest(email=f"İkuko.{tag}@example.jp", password=PASSWORD)
    await fails_with(s.Login(dotted, metadata=meta()), *WRONG)


async def test_a_user_whose_address_has_a_dotted_capital_i_signs_in_with_either_spelling(
    channel: grpc.aio.Channel, deps: Deps, db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    user_id = await make_user(deps, f"İnci.{tag}@example.jp", PASSWORD)
    key = await db.fetchval("SELECT email_key FROM identity.users WHERE id = $1",
                            uuid.UUID(user_id))  # fmt: skip
    assert key == f"i\u0307nci.{tag}@example.jp"
    done = await stub(channel).Login(
        pb.LoginRequest(email=f"i\u0307nci.{tag}@EXAMPLE.JP", password=PASSWORD)
    )
    assert done.user.id == user_id


async def test_link_guesses_stop_at_the_account_limit(
    channel: grpc.aio.Channel, whmcs_control: SandboxControl
) -> None:
    """Repro 2: WHMCS ValidateLogin is not an unlimited password oracle."""
    s = stub(channel)
    hanako = "hanako.yamada@example.jp"
    for i in range(5):
        req = pb.LinkWhmcsAccountRequest(email=hanako, password=f"guess number {i}")
        await fails_with(s.LinkWhmcsAccount(req, metadata=meta()), *WRONG)
    right = pb.LinkWhmcsAccountRequest(email=hanako.upper(), password="demo-password-1")
    await fails_with(s.LinkWhmcsAccount(right, metadata=meta()), *LIMITED)
    assert (await whmcs_control.calls()).get("ValidateLogin") == 5


async def test_login_failures_and_link_guesses_share_the_account_limit(
    channel: grpc.aio.Channel, deps: Deps, whmcs_control: SandboxControl
) -> None:
    s = stub(channel)
    hanako = "hanako.yamada@example.jp"
    for _ in range(3):
        await fails_with(s.Login(pb.LoginRequest(email=hanako, password="x" * 12),
                                 metadata=meta()), *WRONG)  # fmt: skip
    for _ in range(2):
        req = pb.LinkWhmcsAccountRequest(email=hanako, password="y" * 12)
        await fails_with(s.LinkWhmcsAccount(req, metadata=meta()), *WRONG)
    req = pb.LinkWhmcsAccountRequest(email=hanako, password="demo-password-1")
    await fails_with(s.LinkWhmcsAccount(req, metadata=meta()), *LIMITED)


async def test_link_refusal_takes_the_same_path_for_known_and_unknown_emails(
    channel: grpc.aio.Channel, whmcs_control: SandboxControl
) -> None:
    s = stub(channel)
    for email in ("taro.suzuki@example.jp", f"nobody.{uuid.uuid4().hex[:8]}@example.jp"):
        before = dict(await whmcs_control.calls())
        req = pb.LinkWhmcsAccountRequest(email=email, password="wrong password")
        call = s.LinkWhmcsAccount(req, metadata=meta())
        await fails_with(call, *WRONG)
        after = await whmcs_control.calls()
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        assert delta == {"ValidateLogin": 1}, delta


async def request_reset(channel: grpc.aio.Channel, email: str) -> pb.RequestPasswordResetResponse:
    return await stub(channel).RequestPasswordReset(
        pb.RequestPasswordResetRequest(email=email), metadata=meta()
    )


async def test_the_owner_of_a_locked_account_gets_in_by_the_reset_email(
    channel: grpc.aio.Channel, deps: Deps, mail_sandbox: RunningMail
) -> None:
    email = f"owner.{uuid.uuid4().hex[:8]}@example.jp"
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    old = await s.Login(pb.LoginRequest(email=email, password=PASSWORD))
    await lock(channel, email)
    await fails_with(s.Login(pb.LoginRequest(email=email, password=PASSWORD)), *LIMITED)
    await request_reset(channel, email.upper())
    code = await mailed_code(mail_sandbox.url, email)
    confirm = pb.ConfirmPasswordResetRequest(email=email, code=code, new_password=NEW_PASSWORD)
    await s.ConfirmPasswordReset(confirm, metadata=meta())
    # The lock is lifted, the new password works, the old one and the old sessions do not.
    await fails_with(s.Login(pb.LoginRequest(email=email, password=PASSWORD)), *WRONG)
    assert (await s.Login(pb.LoginRequest(email=email, password=NEW_PASSWORD))).user.email
    refresh = pb.RefreshSessionRequest(refresh_token=old.session.refresh_token)
    await fails_with(s.RefreshSession(refresh), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    # The code was used up.
    await fails_with(
        s.ConfirmPasswordReset(confirm, metadata=meta()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "VERIFICATION_CODE_EXPIRED",
    )


async def test_reset_answers_the_same_for_unknown_addresses_and_mails_nobody(
    channel: grpc.aio.Channel, deps: Deps, mail_sandbox: RunningMail
) -> None:
    email = f"known.{uuid.uuid4().hex[:8]}@example.jp"
    await make_user(deps, email, PASSWORD)
    unknown = f"unknown.{uuid.uuid4().hex[:8]}@example.jp"
    assert await request_reset(channel, unknown) == await request_reset(channel, email)
    await mailed_code(mail_sandbox.url, email)
    assert [m["rcpt_to"] for m in await mail_messages(mail_sandbox.url)] == [[email]]
    wrong = pb.ConfirmPasswordResetRequest(email=unknown, code="123456", new_password=NEW_PASSWORD)
    await fails_with(
        stub(channel).ConfirmPasswordReset(wrong, metadata=meta()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "VERIFICATION_CODE_INVALID",
    )
    nul = pb.ConfirmPasswordResetRequest(
        email="a\x00@example.jp", code="1", new_password=NEW_PASSWORD
    )
    await fails_with(
        stub(channel).ConfirmPasswordReset(nul, metadata=meta()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )


async def test_change_password_needs_the_current_one_and_revokes_old_sessions(
    channel: grpc.aio.Channel, deps: Deps
) -> None:
    email = f"change.{uuid.uuid4().hex[:8]}@example.jp"
    await make_user(deps, email, PASSWORD)
    s = stub(channel)
    first = await s.Login(pb.LoginRequest(email=email, password=PASSWORD))
    other = await s.Login(pb.LoginRequest(email=email, password=PASSWORD))
    bearer = (("authorization", f"Bearer {first.session.access_token}"),)
    bad = pb.ChangePasswordRequest(current_password="not it at all", new_password=NEW_PASSWORD)
    await fails_with(s.ChangePassword(bad, metadata=bearer), *WRONG)
    short = pb.ChangePasswordRequest(current_password=PASSWORD, new_password="short")
    await fails_with(
        s.ChangePassword(short, metadata=bearer),
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )
    await fails_with(
        s.ChangePassword(bad), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"
    )  # a bearer RPC: no token, no change
    good = pb.ChangePasswordRequest(current_password=PASSWORD, new_password=NEW_PASSWORD)
    changed = await s.ChangePassword(good, metadata=bearer)
    for old in (first, other):
        refresh = pb.RefreshSessionRequest(refresh_token=old.session.refresh_token)
        await fails_with(s.RefreshSession(refresh), *(grpc.StatusCode.UNAUTHENTICATED,
                                                      "UNAUTHENTICATED"))  # fmt: skip
    kept = pb.RefreshSessionRequest(refresh_token=changed.session.refresh_token)
    assert (await s.RefreshSession(kept)).session.access_token
    assert (await s.Login(pb.LoginRequest(email=email, password=NEW_PASSWORD))).user.email
