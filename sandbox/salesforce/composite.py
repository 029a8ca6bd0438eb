"""``POST composite/``: sub-requests with ``@{ref.path}`` references and ``allOrNone``."""

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
    ref_ids = [str(s.get("referenceId") or "") if isinstance(s, dict) else "" for s in subs]
    if any(not r for r in ref_ids) or len(set(ref_ids)) != len(ref_ids):
        raise SfError(400, "INVALID_BATCH_REQUEST", "Each subrequest needs a unique referenceId")
    all_or_none = bool(body.get("allOrNone", False))
    snap = store.snapshot() if all_or_none else None
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
        count("composite:" + action_name(method, split.path, params))
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
    if all_or_none and failed and snap is not None:
        store.restore(snap)
        for item in out:
            if item["httpStatusCode"] < 300:
                item.update(
                    httpStatusCode=400,
                    body=[{"errorCode": "PROCESSING_HALTED", "message": HALTED}],
                    httpHeaders={},
                )
    else:
        commit()
    return Reply(200, {"compositeResponse": out})


def _item(
    status: int, body: Any, ref: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "body": body,
        "httpHeaders": headers or {},
        "httpStatusCode": status,
        "referenceId": ref,
    }
