"""Salesforce REST client: simple-salesforce (OAuth client-credentials) in a bounded thread pool.

simple-salesforce is synchronous (requests), so every call runs on a dedicated
``ThreadPoolExecutor`` (``max_workers`` threads, so at most that many calls block at once) with
explicit request timeouts (:class:`~services.common.clients.salesforce_http.SalesforceAdapter`)
and the ``resilience`` policy around it. The first call logs in; on a 401 ``INVALID_SESSION_ID``
simple-salesforce logs in again by itself with the client credentials and repeats the request
(verified against the sandbox's ``expire_session`` fault in the service tests).

simple-salesforce and requests (with zeep and lxml under them: ~200 modules, ~10 MiB of RSS and
a second of CPU) are imported on the first call, not when the service starts: a process that
never calls Salesforce (support and identity until a customer needs it) never holds them.

Build queries with :func:`services.common.clients.soql.soql`, never by concatenation.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from services.common.clients.resilience import Policy, Unreachable, Upstream
from services.common.clients.soql import ident
from services.common.errors import PortalError
from services.common.secret import SecretStr

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from services.common.clients.salesforce_http import SalesforceAdapter

SYSTEM = "salesforce"
COLLECTION_MAX = 200  # records per sObject Collections request
GRAPH_MAX = 75  # graphs per composite graph request
GRAPH_NODES_MAX = 500  # sub-requests per composite graph request (all graphs)
_REF_RE = re.compile(r"@\{")

T = TypeVar("T")
Record = dict[str, Any]


@dataclass(frozen=True)
class SalesforceConfig:
    url: str = "http://127.0.0.1:8701"  # instance URL; http:// means a local sandbox
    consumer_key: str = "portal-dev"
    consumer_secret: SecretStr = field(default_factory=lambda: SecretStr("portal-dev-secret"))
    # Token endpoint https://<domain>.salesforce.com. Client-credentials needs the org's My Domain
    # ("acme.my"); simple-salesforce refuses "login"/"test" for it.
    domain: str = "portal-dev.my"
    api_version: str = "60.0"
    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    max_workers: int = 8
    policy: Policy = field(default_factory=lambda: Policy(timeout_s=15.0))


@dataclass(frozen=True)
class QueryPage:
    records: list[Record]
    total_size: int
    next_records_url: str | None  # pass to query_page(next_url=...) for the next batch


@dataclass(frozen=True)
class Session:
    """What the Pub/Sub API needs: keep it out of logs (``repr`` hides the token)."""

    access_token: str
    instance_url: str
    tenant_id: str

    def __repr__(self) -> str:
        return f"Session(access_token=[redacted], instance_url={self.instance_url!r})"


class SalesforceClient:
    def __init__(self, config: SalesforceConfig) -> None:
        self.config = config
        self.upstream = Upstream(SYSTEM, config.policy)
        self._pool = ThreadPoolExecutor(config.max_workers, thread_name_prefix="salesforce")
        self._adapter: SalesforceAdapter | None = None  # with the first call
        self._login_lock = threading.Lock()
        self._sf: Salesforce | None = None

    async def aclose(self) -> None:
        self.upstream.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- plumbing --------------------------------------------------------------------------------
    def _connect(self) -> Salesforce:
        with self._login_lock:
            if self._sf is None:
                import requests
                from simple_salesforce import Salesforce

                from services.common.clients.salesforce_http import SalesforceAdapter

                config = self.config
                self._adapter = SalesforceAdapter(
                    config.url, config.domain, (config.connect_timeout_s, config.timeout_s)
                )
                session = requests.Session()
                session.mount("https://", self._adapter)
                session.mount("http://", self._adapter)
                self._sf = Salesforce(
                    consumer_key=self.config.consumer_key,
                    consumer_secret=self.config.consumer_secret.get_secret_value(),
                    domain=self.config.domain,
                    version=self.config.api_version,
                    session=session,
                )
            return self._sf

    async def _run(self, operation: str, fn: Callable[[Salesforce], T], *, read: bool = False) -> T:
        loop = asyncio.get_running_loop()

        def work() -> T:
            try:
                return fn(self._connect())
            except Exception as exc:
                from services.common.clients.salesforce_http import map_error

                raise map_error(exc) from None

        async def attempt() -> T:
            return await loop.run_in_executor(self._pool, work)

        return await self.upstream.call(operation, attempt, idempotent=read)

    def _rest(self, path: str, method: str = "GET", **kwargs: Any) -> Callable[[Salesforce], Any]:
        return lambda sf: sf.restful(path, method=method, **kwargs)

    @staticmethod
    def _path(sobject: str, *parts: str) -> str:
        return "/".join(["sobjects", ident(sobject), *(quote(p, safe="") for p in parts)])

    # -- session (for Pub/Sub) -------------------------------------------------------------------
    async def session(self, *, refresh: bool = False) -> Session:
        """The current OAuth session; ``refresh=True`` logs in again first."""

        def current(sf: Salesforce) -> Session:
            if refresh:
                sf._refresh_session()  # simple-salesforce's own re-login (client credentials)
            if self._adapter is None or not self._adapter.org_id:
                raise Unreachable("no organization id in the token response")
            return Session(sf.session_id, f"https://{sf.sf_instance}", self._adapter.org_id)

        return await self._run("session", current, read=True)

    # -- queries ---------------------------------------------------------------------------------
    async def query_page(
        self, soql: str | None = None, *, next_url: str | None = None, include_deleted: bool = False
    ) -> QueryPage:
        """One batch of a query (``soql``), or the next batch (``next_url``)."""
        if next_url is not None:
            op = self._rest_more(next_url)
        else:
            endpoint = "queryAll/" if include_deleted else "query/"
            op = self._rest(endpoint, params={"q": soql})
        body = await self._run("query", op, read=True)
        return QueryPage(
            list(body.get("records", [])),
            int(body.get("totalSize", 0)),
            None if body.get("done", True) else body.get("nextRecordsUrl"),
        )

    @staticmethod
    def _rest_more(next_url: str) -> Callable[[Salesforce], Any]:
        return lambda sf: sf.query_more(next_url, identifier_is_url=True)

    async def query(self, soql: str, *, include_deleted: bool = False) -> list[Record]:
        """Every record of a query, following ``nextRecordsUrl``."""
        page = await self.query_page(soql, include_deleted=include_deleted)
        records = list(page.records)
        while page.next_records_url:
            page = await self.query_page(next_url=page.next_records_url)
            records.extend(page.records)
        return records

    # -- records ---------------------------------------------------------------------------------
    async def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> Record:
        params = {"fields": ",".join(ident(f) for f in fields)} if fields else None
        path = self._path(sobject, record_id)
        return dict(await self._run(f"get:{sobject}", self._rest(path, params=params), read=True))

    async def get_by_external_id(self, sobject: str, field: str, value: str) -> Record:
        path = self._path(sobject, ident(field), value)
        return dict(await self._run(f"get:{sobject}", self._rest(path), read=True))

    async def create(self, sobject: str, data: Mapping[str, Any]) -> str:
        """Create a record; returns its id."""
        op = self._rest(self._path(sobject) + "/", "POST", json=dict(data))
        body = await self._run(f"create:{sobject}", op)
        return str(body["id"])

    async def update(self, sobject: str, record_id: str, data: Mapping[str, Any]) -> None:
        op = self._rest(self._path(sobject, record_id), "PATCH", json=dict(data))
        await self._run(f"update:{sobject}", op)

    async def upsert_by_external_id(
        self, sobject: str, field: str, value: str, data: Mapping[str, Any]
    ) -> tuple[str, bool]:
        """Create or update by an external id; returns ``(id, created)``. Idempotent by nature,
        but a write all the same: not retried here."""
        op = self._rest(self._path(sobject, ident(field), value), "PATCH", json=dict(data))
        body = await self._run(f"upsert:{sobject}", op) or {}
        return str(body.get("id", "")), bool(body.get("created", False))

    async def delete(self, sobject: str, record_id: str) -> None:
        await self._run(f"delete:{sobject}", self._rest(self._path(sobject, record_id), "DELETE"))

    async def composite(
        self, requests_: Sequence[Mapping[str, Any]], *, all_or_none: bool = True
    ) -> list[Record]:
        """``POST composite/``. Sub-request ``url``s may be given relative to the versioned data
        root (``sobjects/Order``); a failed sub-request raises its typed error (the first real
        one, not the ``PROCESSING_HALTED`` ones of an all-or-none rollback)."""
        root = f"/services/data/v{self.config.api_version}/"
        subs = [
            {**r, "url": r["url"] if str(r["url"]).startswith("/") else root + str(r["url"])}
            for r in requests_
        ]
        body = {"allOrNone": all_or_none, "compositeRequest": subs}
        result = await self._run("composite", self._rest("composite/", "POST", json=body))
        responses = list(result.get("compositeResponse", []))
        error = _first_error(responses)
        if error is not None:
            raise error
        return responses

    async def update_records(
        self, records: Sequence[tuple[str, str, Mapping[str, Any]]]
    ) -> list[PortalError | None]:
        """``PATCH composite/sobjects`` (sObject Collections, ``allOrNone`` false, at most
        ``COLLECTION_MAX`` records): one ``(sobject, id, fields)`` per record; per record ``None``
        (updated) or its typed error, in order. A failure of the whole request raises."""
        if not 1 <= len(records) <= COLLECTION_MAX:
            raise ValueError(f"1 to {COLLECTION_MAX} records per sObject Collections request")
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": ident(sobject)}, "id": record_id, **dict(data)}
                for sobject, record_id, data in records
            ],
        }
        kinds = sorted({ident(sobject) for sobject, _, _ in records})
        op = self._rest("composite/sobjects", "PATCH", json=body)
        results = await self._run(f"update_many:{','.join(kinds)}", op)
        if not isinstance(results, list) or len(results) != len(records):
            raise Unreachable("sObject Collections answered a different number of results")
        return [None if r.get("success") else _collection_error(r) for r in results]

    async def composite_graph(
        self, graphs: Sequence[Sequence[Mapping[str, Any]]]
    ) -> list[PortalError | None]:
        """``POST composite/graph``: each graph (its sub-requests, ``url``s as in
        :meth:`composite`) is all or none on its own. At most ``GRAPH_MAX`` graphs and
        ``GRAPH_NODES_MAX`` sub-requests in all; ``referenceId``s are made unique per graph here
        (``@{ref}`` references inside a graph are rewritten with them). Per graph ``None``
        (committed) or its typed error (the first real one of its nodes); a graph that was not
        run (too many graphs of the request failed) gets :class:`Unreachable`."""
        nodes = sum(len(g) for g in graphs)
        if not 1 <= len(graphs) <= GRAPH_MAX or nodes > GRAPH_NODES_MAX:
            raise ValueError(f"1 to {GRAPH_MAX} graphs and at most {GRAPH_NODES_MAX} nodes")
        root = f"/services/data/v{self.config.api_version}/"
        body = {"graphs": [
            {"graphId": f"g{n}", "compositeRequest": [_graph_node(r, n, root) for r in graph]}
            for n, graph in enumerate(graphs)
        ]}  # fmt: skip
        result = await self._run(
            "composite_graph", self._rest("composite/graph", "POST", json=body)
        )
        answers = {str(g.get("graphId")): g for g in result.get("graphs") or []}
        out: list[PortalError | None] = []
        for n in range(len(graphs)):
            answer = answers.get(f"g{n}")
            if answer is None:
                out.append(Unreachable("composite graph without an answer for a graph"))
                continue
            if answer.get("isSuccessful"):
                out.append(None)
                continue
            responses = list((answer.get("graphResponse") or {}).get("compositeResponse") or [])
            error = _first_error(responses)
            halted = error is None or all(_halted(r) for r in responses)
            out.append(Unreachable("graph not processed") if halted else error)
        return out


def _graph_node(request: Mapping[str, Any], n: int, root: str) -> dict[str, Any]:
    url = str(request["url"])
    node = {**request, "url": url if url.startswith("/") else root + url}
    node["referenceId"] = f"g{n}_{request['referenceId']}"
    return _prefix_refs(node, f"g{n}_")


def _prefix_refs(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return _REF_RE.sub(lambda _m: "@{" + prefix, value)
    if isinstance(value, list):
        return [_prefix_refs(v, prefix) for v in value]
    if isinstance(value, dict):
        return {k: v if k == "referenceId" else _prefix_refs(v, prefix) for k, v in value.items()}
    return value


def _first_error(responses: Sequence[Mapping[str, Any]]) -> PortalError | None:
    """The typed error of the first failed sub-request (not a ``PROCESSING_HALTED`` one of an
    all-or-none rollback, unless that is all there is)."""
    failed = [r for r in responses if int(r.get("httpStatusCode", 200)) >= 300]
    real = [r for r in failed if not _halted(r)] or failed
    if not real:
        return None
    from services.common.clients.salesforce_http import error_from_items

    return error_from_items(int(real[0]["httpStatusCode"]), _items(real[0].get("body")))


def _collection_error(result: Mapping[str, Any]) -> PortalError:
    from services.common.clients.salesforce_http import error_from_items

    errors = [
        {"errorCode": e.get("statusCode"), "message": e.get("message"), "fields": e.get("fields")}
        for e in _items(result.get("errors"))
    ]
    return error_from_items(400, errors)


def _items(body: Any) -> list[dict[str, Any]]:
    return [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []


def _halted(response: Mapping[str, Any]) -> bool:
    return any(e.get("errorCode") == "PROCESSING_HALTED" for e in _items(response.get("body")))
