"""Linking an existing WHMCS client: its WHMCS login -> a portal user for its Salesforce account.

WHMCS ``ValidateLogin`` -> ``GetClientsDetails`` -> customer number (custom field 198) ->
Salesforce Account by ``SF_Account_No__c`` -> user + mapping + outbox (source ``WHMCS Link``).

The WHMCS password is used once, for ``ValidateLogin``, and never stored or logged. What the
portal stores is the argon2id hash of that same password, so the customer signs in to the portal
with the login they already know; from then on the two passwords are independent (changing one
does not change the other), which the link page says.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from services.common.clients.whmcs import WhmcsClient
from services.common.clients.whmcs_wire import custom_field
from services.common.errors import AccountAlreadyRegistered, WhmcsAccountNotLinkable
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
    customer_number_field: int

    async def link(self, email: str, password: str, address: str) -> SignedIn:
        email = email.strip()
        require_credentials(email, password)
        await self.throttle.consume(self.limit, address)
        login = await self.whmcs.validate_login(email, password)  # INVALID_CREDENTIALS
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
