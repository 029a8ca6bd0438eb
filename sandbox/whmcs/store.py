"""All state of one WHMCS sandbox, with the id sequences a real database would keep."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date

from sandbox.whmcs import seed
from sandbox.whmcs.models import Client, Invoice, Order, PayMethod, Product, Service, User


class Store:
    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.clients: dict[int, Client] = {}
        self.paymethods: dict[int, PayMethod] = {}
        self.invoices: dict[int, Invoice] = {}
        self.services: dict[int, Service] = {}
        self.orders: dict[int, Order] = {}
        self.products: dict[int, Product] = dict(seed.PRODUCTS)
        self.gateways: dict[str, str] = dict(seed.GATEWAYS)
        self._seq: dict[str, Iterator[int]] = {}
        self.reset()

    def reset(self, today: date | None = None) -> None:
        day = today or date.today()
        self.users = {u.id: u for u in seed.seed_users(day)}
        self.clients = {c.id: c for c in seed.seed_clients(day)}
        self.paymethods = {p.id: p for p in seed.seed_paymethods(day)}
        self.invoices = {i.id: i for i in seed.seed_invoices(day)}
        self.services = {s.id: s for s in seed.seed_services(day)}
        self.orders = {o.id: o for o in seed.seed_orders(day)}
        items = [item.id for inv in self.invoices.values() for item in inv.items]
        txs = [t.id for inv in self.invoices.values() for t in inv.transactions]
        self._seq = {
            "user": itertools.count(max(self.users) + 1),
            "client": itertools.count(max(self.clients) + 1),
            "paymethod": itertools.count(max(self.paymethods) + 1),
            "invoice": itertools.count(max(self.invoices) + 1),
            "item": itertools.count(max(items) + 1),
            "transaction": itertools.count(max(txs) + 1),
            "service": itertools.count(max(self.services) + 1),
            "order": itertools.count(max(self.orders) + 1),
        }

    def next_id(self, kind: str) -> int:
        return next(self._seq[kind])

    def client_by_email(self, email: str) -> Client | None:
        wanted = email.strip().lower()
        return next((c for c in self.clients.values() if c.email.lower() == wanted), None)

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u.email.lower() == wanted), None)

    def clients_of_user(self, user_id: int) -> list[tuple[Client, bool]]:
        """The clients a user reaches, each with whether the user owns it, by client id."""
        return [
            (c, c.owner_user_id == user_id)
            for c in sorted(self.clients.values(), key=lambda c: c.id)
            if c.owner_user_id == user_id or user_id in c.invited_user_ids
        ]

    def client_paymethods(self, userid: int) -> list[PayMethod]:
        methods = [p for p in self.paymethods.values() if p.userid == userid]
        return sorted(methods, key=lambda p: (p.order, p.id))
