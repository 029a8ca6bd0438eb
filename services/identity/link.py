"""Linking an existing WHMCS client: its WHMCS login -> a portal user for its Salesforce account.

WHMCS ``ValidateLogin`` -> ``GetClientsDetails`` -> customer number (custom field 198) ->
Salesforce Account by ``SF_Account_No__c`` -> user + mapping + outbox (source ``WHMCS Link``).

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
        login = await self._validate_login(email, password)
        await self.throttle.clear(self.per_account, email_key(email))
        client = await self.whmcs.get_clients_details(login.user_id)
        number = custom_field(client, self.customer_number_field)
        if number is None:
            raise WhmcsAccountNotLinkable()
        account = await self.customers.find(number, cached=False)
        if account is None:
            raise WhmcsAccountNotLinkable()
        await self.customers.refuse_registered(account)
        if await repo.links_of_whmcs_client(self.accounts.pool, login.user_id):
            raise AccountAlreadyRegistered()
        new = repo.NewUser(
            email=str(client.get("email") or email),
            password_hash=await self.passwords.hash(password),
            first_name=str(client.get("firstname") or ""),
            last_name=str(client.get("lastname") or ""),
            whmcs_client_id=login.user_id,
            sf_account_id=account.id,
            customer_number=number,
            source="WHMCS Link",
        )
        done = await self.accounts.create(new, account)
        log.info("whmcs_client_linked", user_id=done.user.id, whmcs_client_id=login.user_id)
        return done

    async def _validate_login(self, email: str, password: str) -> Login:
        """WHMCS ``ValidateLogin``; a refusal (INVALID_CREDENTIALS) is answered no sooner than
        ``failure_floor_s`` after the call started."""
        started = time.monotonic()
        try:
            return await self.whmcs.validate_login(email, password)
        except InvalidCredentials:
            await asyncio.sleep(max(0.0, started + self.failure_floor_s - time.monotonic()))
            log.info("link_login_refused")
            raise
