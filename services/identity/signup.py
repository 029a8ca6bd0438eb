"""Sign-up: customer number -> WHMCS client -> portal user + mapping -> Salesforce (outbox).

Only with the code :class:`ownership.Ownership` sent to the account's own e-mail: the code is
used up before anything else is looked up or written (so the answers that follow, such as
ACCOUNT_ALREADY_REGISTERED, reach only the account's owner).

Nothing is left half-done: refusals happen before anything is written; WHMCS ``AddClient`` is
the first write; if the Postgres transaction fails after it (a conflict, Postgres down) the new
WHMCS client is closed (``UpdateClient status=Inactive``) before answering, so no orphan billing
account remains. The Salesforce Account update travels through the outbox, so a Salesforce outage
after the user exists delays it but does not fail the sign-up.

A sign-up answered "try again later" after WHMCS did create the client (``AddClient`` timed out,
or the client was closed after a failed Postgres write) must not lock the customer out: the
client carries a marker in its notes (``portalSignup=<customer number>``), and when ``AddClient``
then refuses the e-mail, a client with that marker, that customer number and no portal user is
this sign-up's own and is taken up again (its profile rewritten from the form, status Active).
Any other client with that e-mail (made by staff, or already someone's) is
``EMAIL_ALREADY_REGISTERED`` as before.

WHMCS gets a random password, not the portal one: customers sign in to the portal only, and
reach WHMCS pages through single-use SSO links, so their portal password is stored in one place
(as an argon2id hash) and nowhere else.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import structlog

from services.common.clients.whmcs import WhmcsClient
from services.common.clients.whmcs_wire import as_int, custom_field
from services.common.errors import EmailAlreadyRegistered, NotFound, PortalError
from services.identity import repo
from services.identity.accounts import Accounts
from services.identity.customers import Customers, SfAccount
from services.identity.login import SignedIn
from services.identity.ownership import Ownership
from services.identity.passwords import Passwords
from services.identity.throttle import Limit, Throttle
from services.identity.validation import SignUpForm, check, reject_control_characters

log = structlog.get_logger("signup")


@dataclass(frozen=True)
class SignUpFlow:
    customers: Customers
    ownership: Ownership
    accounts: Accounts
    whmcs: WhmcsClient
    passwords: Passwords
    throttle: Throttle
    lookup_limit: Limit
    signup_limit: Limit
    customer_number_field: int

    async def validate_number(self, number: str, address: str) -> str:
        """The number if an account has it; registered or not answers alike (cached, so
        repeated look-ups of a number cost no Salesforce call)."""
        await self.throttle.consume(self.lookup_limit, address)
        reject_control_characters(customer_number=number)
        return (await self.customers.existing(number)).number

    async def sign_up(self, form: SignUpForm, code: str, address: str) -> SignedIn:
        await self.throttle.consume(self.signup_limit, address)
        if not form.customer_number.strip():
            await self.customers.registrable("")  # CUSTOMER_NUMBER_REQUIRED before the rest
        form = check(form)
        await self.ownership.prove(form.customer_number, form.email, code)
        account = await self.customers.registrable(form.customer_number, cached=False)
        if await repo.email_taken(self.accounts.pool, form.email):
            raise EmailAlreadyRegistered()
        password_hash = await self.passwords.hash(form.password)
        client_id = await self._add_client(form)
        try:
            return await self.accounts.create(self._new_user(form, password_hash, client_id,
                                                             account), account)  # fmt: skip
        except BaseException:
            await asyncio.shield(self._close_client(client_id))
            raise

    def _new_user(
        self, form: SignUpForm, password_hash: str, client_id: int, account: SfAccount
    ) -> repo.NewUser:
        return repo.NewUser(
            email=form.email, password_hash=password_hash, first_name=form.first_name,
            last_name=form.last_name, whmcs_client_id=client_id, sf_account_id=account.id,
            customer_number=account.number, source="New Signup",
        )  # fmt: skip

    async def _add_client(self, form: SignUpForm) -> int:
        a = form.address
        try:
            client_id = await self.whmcs.add_client(
                firstname=form.first_name, lastname=form.last_name, email=form.email,
                address1=a.line1, address2=a.line2, city=a.city, state=a.state,
                postcode=a.postcode, country=a.country, phonenumber=form.phone,
                password=secrets.token_urlsafe(24), notes=_marker(form),
                customfields={self.customer_number_field: form.customer_number}, noemail=True,
            )  # fmt: skip
        except EmailAlreadyRegistered:
            return await self._take_up(form)
        log.info("whmcs_client_added", whmcs_client_id=client_id)
        return client_id

    async def _take_up(self, form: SignUpForm) -> int:
        """The client an earlier attempt of this sign-up made (see the module docstring), made
        current again; else the e-mail is taken."""
        try:
            client = await self.whmcs.get_clients_details(email=form.email)
        except NotFound:
            raise EmailAlreadyRegistered() from None
        client_id = as_int(client.get("id"))
        ours = (
            _marker(form) in str(client.get("notes") or "").splitlines()
            and custom_field(client, self.customer_number_field) == form.customer_number
            and await repo.links_of_whmcs_client(self.accounts.pool, client_id) is None
        )
        if not ours or client_id <= 0:
            raise EmailAlreadyRegistered()
        a = form.address
        await self.whmcs.update_client(
            client_id, firstname=form.first_name, lastname=form.last_name, address1=a.line1,
            address2=a.line2, city=a.city, state=a.state, postcode=a.postcode, country=a.country,
            phonenumber=form.phone, status="Active",
        )  # fmt: skip
        log.info("whmcs_client_taken_up", whmcs_client_id=client_id)
        return client_id

    async def _close_client(self, client_id: int) -> None:
        try:
            await self.whmcs.update_client(client_id, status="Inactive")
            log.warning("whmcs_client_closed_after_failed_signup", whmcs_client_id=client_id)
        except PortalError as exc:
            # Logged loudly for a person to close it: the sign-up still answers its own error.
            log.error("whmcs_orphan_client", whmcs_client_id=client_id, error=type(exc).__name__)


def _marker(form: SignUpForm) -> str:
    """What the portal writes into the notes of a WHMCS client its sign-up creates."""
    return f"portalSignup={form.customer_number}"
