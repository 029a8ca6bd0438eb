"""Repro 5: a changed billing e-mail reaches WHMCS only with the code sent to the new address
(the mail sandbox over SMTP), so nobody can squat someone else's address on their client."""

from __future__ import annotations

import uuid

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from portal.billing.v1 import billing_pb2 as pb

from sandbox.mail import RunningMail
from sandbox.whmcs import RunningWhmcs
from tests.helpers.sandboxes import mail_messages, mailed_code
from tests.service.billing.helpers import Caller, WhmcsControl


def change_email(email: str, phone: str = "") -> pb.UpdateBillingProfileRequest:
    mask = ["email", "phone"] if phone else ["email"]
    profile = pb.BillingProfile(email=email, phone=phone)
    return pb.UpdateBillingProfileRequest(profile=profile, update_mask=FieldMask(paths=mask))


def confirm(code: str) -> pb.ConfirmBillingEmailRequest:
    return pb.ConfirmBillingEmailRequest(code=code)


async def test_an_unconfirmed_email_never_reaches_whmcs(
    hanako: Caller, whmcs_sandbox: RunningWhmcs, mail_sandbox: RunningMail
) -> None:
    squatted = f"victim.{uuid.uuid4().hex[:8]}@example.jp"
    answer = await hanako.call("UpdateBillingProfile", change_email(squatted, "+81 3 1111 2222"))
    assert answer.pending_email == squatted
    assert answer.profile.email == "hanako.yamada@example.jp" and answer.profile.phone
    client = whmcs_sandbox.store.clients[1]
    assert client.email == "hanako.yamada@example.jp"  # the other field was written, not this
    assert client.phonenumber == "+81 3 1111 2222"
    [mail] = await mail_messages(mail_sandbox.url, squatted)
    assert mail["subject"] == "Confirm your billing e-mail"
    # Guesses: 5 tries, then the change is dead; WHMCS never saw the address.
    real = await mailed_code(mail_sandbox.url, squatted)
    for k in range(1, 6):
        guess = f"{(int(real) + k) % 10**6:06d}"
        code, reason, _ = await hanako.fails("ConfirmBillingEmail", confirm(guess))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VERIFICATION_CODE_INVALID")
    code, reason, _ = await hanako.fails("ConfirmBillingEmail", confirm(real))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "VERIFICATION_CODE_EXPIRED")
    assert whmcs_sandbox.store.clients[1].email == "hanako.yamada@example.jp"


async def test_the_owner_of_the_new_address_confirms_it(
    hanako: Caller, kenji: Caller, whmcs: WhmcsControl, whmcs_sandbox: RunningWhmcs,
    mail_sandbox: RunningMail,
) -> None:  # fmt: skip
    new = f"hanako.{uuid.uuid4().hex[:8]}@example.jp"
    await hanako.call("UpdateBillingProfile", change_email(new))
    code = await mailed_code(mail_sandbox.url, new)
    # Another user cannot use Hanako's code.
    other = await kenji.fails("ConfirmBillingEmail", confirm(code))
    assert other[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "VERIFICATION_CODE_EXPIRED")
    done = await hanako.call("ConfirmBillingEmail", confirm(code))
    assert done.profile.email == new
    assert whmcs_sandbox.store.clients[1].email == new
    before = await whmcs.calls()
    fresh = await hanako.call("GetBillingProfile", pb.GetBillingProfileRequest())
    assert fresh.profile == done.profile and fresh.profile.email == new
    # The confirmation read the profile back: the read after it is a hit.
    assert (await whmcs.calls())["GetClientsDetails"] == before["GetClientsDetails"]
    again = await hanako.fails("ConfirmBillingEmail", confirm(code))
    assert again[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "VERIFICATION_CODE_EXPIRED")


async def test_the_same_address_in_another_spelling_needs_no_code(
    hanako: Caller, whmcs_sandbox: RunningWhmcs, mail_sandbox: RunningMail
) -> None:
    answer = await hanako.call("UpdateBillingProfile", change_email("HANAKO.YAMADA@example.jp"))
    assert answer.pending_email == "" and answer.profile.email == "HANAKO.YAMADA@example.jp"
    assert whmcs_sandbox.store.clients[1].email == "HANAKO.YAMADA@example.jp"
    assert await mail_messages(mail_sandbox.url) == []
