"""``POST composite/``: sub-requests with ``@{ref.path}`` references and ``allOrNone``; and
``POST composite/graph``: up to 75 graphs, each all or none on its own (one transaction per graph).

The rules and limits are in docs/contracts/salesforce.md ("Composite" and "Composite Graph")."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import SfError
from .rest import Reply, RestApi, action_name
from .store import Store

_REF_RE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}")
_STEP_RE = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
GRAPH_HALTED = "Processing halted: too many graphs of this request failed."
MAX_BULK_SUBREQUESTS = 5  # query/queryAll and sObject Collections sub-requests per composite
MAX_GRAPHS = 75
MAX_GRAPH_NODES = 500  # per graph and per request
MAX_GRAPH_DEPTH = 15
MAX_NODE_KINDS = 15  # different (API version, method, object) per request
MAX_GRAPH_FAILURES = 14  # more failed graphs halt the rest
_BULK_RE = re.compile(r"^/services/data/v\d+\.\d+/(query|queryAll|composite/sobjects)(/|$)")
_NODE_RE = re.compile(r"^/services/data/(v\d+\.\d+)/sobjects(/)(.+)$")

Commit = Callable[[], None]


class _Unresolved(Exception):
    pass


def _resolve(text: str, results: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        ref, path = m.group(1), m.group(2)
        if ref not in results:
            raise _Unresolved(
                f"Invalid reference specified. No value for {ref}{path} found in "
                f"{ref}. Provided referenceId ({ref}) does not exist."
            )
        value: Any = results[ref]
        for step in _STEP_RE.finditer(path):
            try:
                value = value[step.group(1)] if step.group(1) else value[int(step.group(2))]
            except (KeyError, IndexError, TypeError):
                raise _Unresolved(
                    f"Invalid reference specified. No value for {ref}{path} found in {ref}."
                ) from None
        return str(value)

    return _REF_RE.sub(sub, text)


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _resolve(value, results)
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    return value


def run_composite(
    api: RestApi, store: Store, body: Any, commit: Commit, count: Callable[[str], None]
) -> Reply:
    """Run a composite request; ``commit`` publishes the pending changes as one transaction."""
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise SfError(400, "JSON_PARSER_ERROR", "compositeRequest is required")
    subs: list[Any] = body["compositeRequest"]
    if not subs or len(subs) > 25:
        raise SfError(
            400, "INVALID_BATCH_REQUEST", "The number of subrequests must be between 1 and 25"
        )
    ref_ids = _reference_ids(subs)
    bulk = sum(1 for s in subs if isinstance(s, dict) and _is_bulk(str(s.get("url", ""))))
    if bulk > MAX_BULK_SUBREQUESTS:
        raise SfError(400, "INVALID_BATCH_REQUEST", f"At most {MAX_BULK_SUBREQUESTS} subrequests "
                      "can be query or sObject Collections operations")  # fmt: skip
    all_or_none = bool(body.get("allOrNone", False))
    out, _ = _run_nodes(api, store, subs, ref_ids, all_or_none, commit, count, "composite:")
    return Reply(200, {"compositeResponse": out})


def _reference_ids(subs: list[Any]) -> list[str]:
    if any(not isinstance(s, dict) for s in subs):
        raise SfError(400, "JSON_PARSER_ERROR", "each subrequest must be an object")
    ref_ids = [str(s.get("referenceId") or "") for s in subs]
    if any(not r for r in ref_ids) or len(set(ref_ids)) != len(ref_ids):
        raise SfError(400, "INVALID_BATCH_REQUEST", "Each subrequest needs a unique referenceId")
    return ref_ids


def _is_bulk(url: str) -> bool:
    """A query (query/queryAll) or sObject Collections sub-request."""
    path = urlsplit(url).path
    return bool(_BULK_RE.search(path))


def _halt(out: list[dict[str, Any]]) -> None:
    for item in out:
        if item["httpStatusCode"] < 300:
            item.update(
                httpStatusCode=400,
                body=[{"errorCode": "PROCESSING_HALTED", "message": HALTED}],
                httpHeaders={},
            )


def _run_nodes(
    api: RestApi,
    store: Store,
    subs: list[Any],
    ref_ids: list[str],
    all_or_none: bool,
    commit: Commit,
    count: Callable[[str], None],
    prefix: str,
) -> tuple[list[dict[str, Any]], bool]:
    """Run sub-requests in order; all or none: one failure rolls back the others' writes.
    Returns the results and whether every sub-request succeeded."""
    sp = store.savepoint() if all_or_none else None
    results: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    failed = False
    for sub, ref in zip(subs, ref_ids, strict=True):
        if failed and all_or_none:
            out.append(_item(400, [{"errorCode": "PROCESSING_HALTED", "message": HALTED}], ref))
            continue
        try:
            url = _resolve(str(sub.get("url", "")), results)
            payload = _substitute(sub.get("body"), results)
        except _Unresolved as exc:
            failed = True
            out.append(_item(400, [{"errorCode": "PROCESSING_HALTED", "message": str(exc)}], ref))
            continue
        split = urlsplit(url)
        method = str(sub.get("method", "GET")).upper()
        params = dict(parse_qsl(split.query))
        count(prefix + action_name(method, split.path, params))
        try:
            reply = api.handle(method, split.path, params, payload)
        except SfError as exc:
            failed = True
            out.append(_item(exc.status, exc.body(), ref))
            continue
        if not all_or_none:
            commit()
        if reply.status < 300 and reply.body is not None:
            results[ref] = reply.body
        out.append(_item(reply.status, reply.body, ref, reply.headers))
    if sp is not None and failed:
        store.rollback(sp)
        _halt(out)
    else:
        if sp is not None:
            store.release(sp)
        commit()
    return out, not failed


def run_graph(
    api: RestApi, store: Store, body: Any, commit: Commit, count: Callable[[str], None]
) -> Reply:
    """Run a composite graph request: each graph is one transaction (committed, or rolled back
    alone); after more than ``MAX_GRAPH_FAILURES`` failed graphs the rest are not run."""
    if not isinstance(body, dict) or not isinstance(body.get("graphs"), list):
        raise SfError(400, "JSON_PARSER_ERROR", "graphs is required")
    graphs: list[Any] = body["graphs"]
    if not 1 <= len(graphs) <= MAX_GRAPHS:
        raise SfError(400, "INVALID_BATCH_REQUEST",
                      f"The number of graphs must be between 1 and {MAX_GRAPHS}")  # fmt: skip
    plans: list[tuple[str, list[Any], list[str]]] = []
    kinds: set[tuple[str, str, str]] = set()
    seen_graphs: set[str] = set()
    seen_refs: set[str] = set()
    nodes = 0
    for graph in graphs:
        if not isinstance(graph, dict) or not isinstance(graph.get("compositeRequest"), list):
            raise SfError(400, "JSON_PARSER_ERROR", "each graph needs graphId and compositeRequest")
        graph_id = str(graph.get("graphId") or "")
        if not graph_id or graph_id in seen_graphs:
            raise SfError(400, "INVALID_BATCH_REQUEST", "Each graph needs a unique graphId")
        seen_graphs.add(graph_id)
        subs: list[Any] = graph["compositeRequest"]
        if not 1 <= len(subs) <= MAX_GRAPH_NODES:
            raise SfError(400, "INVALID_BATCH_REQUEST", f"A graph has 1 to {MAX_GRAPH_NODES} "
                          "nodes")  # fmt: skip
        ref_ids = _reference_ids(subs)
        if seen_refs.intersection(ref_ids):
            raise SfError(400, "INVALID_BATCH_REQUEST", "Each node needs a unique referenceId")
        seen_refs.update(ref_ids)
        nodes += len(subs)
        kinds.update(_node_kind(s) for s in subs)
        if _depth(subs, ref_ids) > MAX_GRAPH_DEPTH:
            raise SfError(400, "INVALID_BATCH_REQUEST",
                          f"The maximum depth of a graph is {MAX_GRAPH_DEPTH}")  # fmt: skip
        plans.append((graph_id, subs, ref_ids))
    if nodes > MAX_GRAPH_NODES:
        raise SfError(400, "INVALID_BATCH_REQUEST",
                      f"At most {MAX_GRAPH_NODES} nodes in one request")  # fmt: skip
    if len(kinds) > MAX_NODE_KINDS:
        raise SfError(400, "INVALID_BATCH_REQUEST", f"At most {MAX_NODE_KINDS} different nodes "
                      "(API version, HTTP method, object) in one request")  # fmt: skip
    out: list[dict[str, Any]] = []
    failures = 0
    for graph_id, subs, ref_ids in plans:
        if failures > MAX_GRAPH_FAILURES:
            halted = [_item(400, [{"errorCode": "PROCESSING_HALTED", "message": GRAPH_HALTED}], r)
                      for r in ref_ids]  # fmt: skip
            out.append(_graph(graph_id, halted, False))
            continue
        results, ok = _run_nodes(api, store, subs, ref_ids, True, commit, count, "graph:")
        failures += not ok
        out.append(_graph(graph_id, results, ok))
    return Reply(200, {"graphs": out})


def _graph(graph_id: str, results: list[dict[str, Any]], ok: bool) -> dict[str, Any]:
    return {"graphId": graph_id, "graphResponse": {"compositeResponse": results},
            "isSuccessful": ok}  # fmt: skip


def _node_kind(sub: dict[str, Any]) -> tuple[str, str, str]:
    """(API version, method, object) of a graph node; only the sObject resources are allowed:
    ``sobjects/<Object>`` POST, ``sobjects/<Object>/<id>`` GET/PATCH/DELETE,
    ``sobjects/<Object>/<field>/<value>`` GET/PATCH/POST/DELETE."""
    method = str(sub.get("method", "GET")).upper()
    m = _NODE_RE.match(urlsplit(str(sub.get("url", ""))).path)
    allowed = {1: {"POST"}, 2: {"GET", "PATCH", "DELETE"}, 3: {"GET", "PATCH", "POST", "DELETE"}}
    parts = [p for p in m.group(3).split("/") if p] if m else []
    if m is None or method not in allowed.get(len(parts), set()):
        raise SfError(400, "INVALID_BATCH_REQUEST", f"{method} {sub.get('url')} is not supported "
                      "in a composite graph")  # fmt: skip
    return m.group(1), method, parts[0].lower()


def _depth(subs: list[Any], ref_ids: list[str]) -> int:
    """Longest chain of ``@{ref}`` references in a graph (a node referring to none is depth 1)."""
    depth: dict[str, int] = {}
    for sub, ref in zip(subs, ref_ids, strict=True):
        text = f"{sub.get('url', '')} {sub.get('body', '')}"
        used = [m.group(1) for m in _REF_RE.finditer(text)]
        depth[ref] = 1 + max((depth.get(u, 0) for u in used), default=0)
    return max(depth.values(), default=0)


def _item(
    status: int, body: Any, ref: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "body": body,
        "httpHeaders": headers or {},
        "httpStatusCode": status,
        "referenceId": ref,
    }
