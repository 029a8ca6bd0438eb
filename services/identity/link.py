"""Linking an existing WHMCS client: its WHMCS login -> a portal user for its Salesforce account.

WHMCS ``ValidateLogin`` (proves a WHMCS *user*) -> ``GetUsers`` (the one client that user owns)
-> ``GetClientsDetails`` -> customer number (custom field 198) -> Salesforce Account by
``SF_Account_No__c`` -> user + mapping + outbox (source ``WHMCS Link``).

Since WHMCS 8 a user is a login apart from the clients (billing accounts) it owns or was invited
to, and user ids and client ids are separate sequences: the user id is never used as a client id.
A user with two-factor authentication, a user who owns no client (only invited) and a user who
owns several are refused, each with its own reason, rather than linked to a guess.

The WHMCS password is used once, for ``ValidateLogin``, and never stored or logged. What the
portal stores is the argon2id hash of that same password, so the customer signs in to the portal
with the login they already know; from then on the two passwords are independent (changing one
does not change the other), which the link page says.

``ValidateLogin`` is a password check, so linking is throttled like login: every attempt counts
against the account's sign-in limit (``login:acct:<email key>``, the same counter as login, so a
lockout stops link guesses too) and against the address's link limit, before WHMCS is asked. A
refused WHMCS login answers no sooner than ``failure_floor_s`` after the request started, so a
known and an unknown e-mail answer in the same time (WHMCS itself takes longer for a known one).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog

from services.common.clients.whmcs import Login, WhmcsClient
from services.common.clients.whmcs_wire import custom_field
from services.common.emails import email_key
from services.common.errors import (
    AccountAlreadyRegistered,
    InvalidCredentials,
    WhmcsAccountNotLinkable,
    WhmcsNoOwnedClient,
    WhmcsSeveralOwnedClients,
    WhmcsTwoFactorEnabled,
)
from services.identity import repo
from services.identity.accounts import Accounts
from services.identity.customers import Customers
from services.identity.login import SignedIn, require_credentials
from services.identity.passwords import Passwords
from services.identity.throttle import Limit, Throttle

log = structlog.get_logger("link")


@dataclass(frozen=True)
class LinkFlow:
    customers: Customers
    accounts: Accounts
    whmcs: WhmcsClient
    passwords: Passwords
    throttle: Throttle
    limit: Limit
    per_account: Limit
    customer_number_field: int
    failure_floor_s: float = 0.0

    async def link(self, email: str, password: str, address: str) -> SignedIn:
        email = email.strip()
        require_credentials(email, password)
        await self.throttle.consume(self.limit, address)
        await self.throttle.consume(self.per_account, email_key(email))
        client_id = await self._owned_client(email, password)
        client = await self.whmcs.get_clients_details(client_id)
        number = custom_field(client, self.customer_number_field)
        if number is None or str(client.get("status") or "") == "Closed":
            raise WhmcsAccountNotLinkable()
        account = await self.customers.find(number, cached=False)
        if account is None:
            raise WhmcsAccountNotLinkable()
        await self.customers.refuse_registered(account)
        if await repo.links_of_whmcs_client(self.accounts.pool, client_id):
            raise AccountAlreadyRegistered()
        new = repo.NewUser(
            email=str(client.get("email") or email),
            password_hash=await self.passwords.hash(password),
            first_name=str(client.get("firstname") or ""),
            last_name=str(client.get("lastname") or ""),
            whmcs_client_id=client_id,
            sf_account_id=account.id,
            customer_number=number,
            source="WHMCS Link",
        )
        done = await self.accounts.create(new, account)
        log.info("whmcs_client_linked", user_id=done.user.id, whmcs_client_id=client_id)
        return done

    async def _validate_login(self, email: str, password: str) -> Login:
        """WHMCS ``ValidateLogin``; a refusal (INVALID_CREDENTIALS) is answered no sooner than
        ``failure_floor_s`` after the call started. A right password clears the account's
        sign-in counter (the person is who the login says)."""
        started = time.monotonic()
        try:
            login = await self.whmcs.validate_login(email, password)
        except InvalidCredentials:
            await asyncio.sleep(max(0.0, started + self.failure_floor_s - time.monotonic()))
            log.info("link_login_refused")
            raise
        await self.throttle.clear(self.per_account, email_key(email))
        return login

    async def _owned_client(self, email: str, password: str) -> int:
        """The id of the one WHMCS client the WHMCS user behind this login owns."""
        login = await self._validate_login(email, password)  # INVALID_CREDENTIALS
        if login.two_factor_enabled:
            raise WhmcsTwoFactorEnabled()
        reached = await self.whmcs.clients_of_user(login.user_id, email)
        owned = [c.client_id for c in reached if c.is_owner]
        if not owned:
            log.info("whmcs_link_refused", whmcs_user_id=login.user_id, reason="no_owned_client")
            raise WhmcsNoOwnedClient()
        if len(owned) > 1:
            log.info("whmcs_link_refused", whmcs_user_id=login.user_id, reason="several_owned")
            raise WhmcsSeveralOwnedClients()
        return owned[0]
