"""The soak's numbers: the result document (JSON), its markdown summary, and the "Soak results"
block of ``bench/README.md`` (replaced between markers on every ``make soak``)."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from statistics import mean
from typing import Any

from bench.soak_workload import Endpoint

BEGIN, END = "<!-- soak-results:begin -->", "<!-- soak-results:end -->"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else 0.0


def endpoint_stats(endpoints: dict[str, Endpoint]) -> dict[str, dict[str, Any]]:
    out = {}
    for label, e in sorted(endpoints.items()):
        errors = sum(e.errors.values())
        out[label] = {
            "count": len(e.latencies_ms),
            "errors": errors,
            "error_rate": round(errors / len(e.latencies_ms), 5) if e.latencies_ms else 0.0,
            "p50_ms": round(percentile(e.latencies_ms, 0.50), 1),
            "p99_ms": round(percentile(e.latencies_ms, 0.99), 1),
            "max_ms": round(max(e.latencies_ms, default=0.0), 1),
            "error_reasons": dict(e.errors),
        }
    return out


# User-facing RPCs by family: reads the cache serves (docs/cache.md), reads that are live by design
# (support cases are never cached), and the rest a user asks for (writes, sign-in). RPCs no user
# calls through the gateway are "internal" (one service asking another while serving a user's
# request); upstream calls outside any RPC, and those made while handling a WHMCS webhook, are
# "background" (CDC consumer, fulfillment of approved orders, outbox, webhook deliveries).
CACHED_READS = {
    "ListInvoices": "invoices",
    "GetInvoice": "invoice detail",
    "ListSubscriptions": "subscriptions",
    "GetSubscription": "subscriptions",
    "ListProducts": "catalog",
    "GetProduct": "catalog",
    "GetEligibility": "eligibility",
    "ListOrders": "orders",
    "GetOrder": "orders",
    "ListPaymentMethods": "payment methods",
    "ListPaymentGateways": "payment methods",
    "GetBillingProfile": "billing profile",
    "GetMe": "me",
    "ListSims": "sims",
    "GetSimUsage": "sims",
}
LIVE_READS = {"ListCases": "cases", "GetCase": "cases"}
INTERNAL = {
    "GetJwks",  # Envoy's key-set fetch
    "GetAccountLinks",
    "ListUsersBySalesforceAccount",
    "GetUserByWhmcsClient",
    "HasPaymentMethod",
    "GetCheckoutProfile",
}
BACKGROUND = {"background", "HandleWhmcsWebhook"}
CACHED_GOAL = 0.05  # upstream calls per cached read (issue goal; reported, not a pass/fail check)


def kind_of(rpc: str) -> tuple[str, str]:
    """(class, family) of an RPC's short name (or ``background``)."""
    if rpc in CACHED_READS:
        return "cached read", CACHED_READS[rpc]
    if rpc in LIVE_READS:
        return "live read", LIVE_READS[rpc]
    if rpc in BACKGROUND:
        return "background", "background"
    if rpc in INTERNAL:
        return "internal", rpc
    return "write or sign-in", rpc


def _short(method: str) -> str:
    return method.rsplit("/", 1)[-1] if method.startswith("/") else method


def attribution(metrics: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """Upstream calls per request by request kind, from the services' own counters: calls by the
    RPC being served when they were made (``portal_upstream_calls_by_rpc_total``) over the RPCs
    served (``portal_rpc_handled_total``, every status code), summed over services."""
    served: Counter[str] = Counter()
    calls: dict[str, Counter[str]] = {}
    for series in metrics.values():
        for method, n in series.get("portal_rpc_handled_total", {}).items():
            if not method.startswith("/grpc."):  # health checks, reflection
                served[_short(method)] += n
        for key, n in series.get("portal_upstream_calls_by_rpc_total", {}).items():
            system, rpc = key.split("|", 1)
            calls.setdefault(_short(rpc), Counter())[system] += n
    causes = miss_causes_by_rpc(metrics)
    families: dict[str, dict[str, Any]] = {}
    for rpc in sorted(set(served) | set(calls) | set(causes)):
        kind, family = kind_of(rpc)
        if kind == "internal" and not calls.get(rpc):
            continue
        row = families.setdefault(
            family,
            {
                "class": kind,
                "rpcs": [],
                "requests": 0,
                "calls": Counter(),
                "misses": Counter({why: 0 for why in MISS_CAUSES}),
            },
        )
        if rpc not in row["rpcs"]:
            row["rpcs"].append(rpc)
        row["requests"] += served[rpc] if kind != "background" else 0
        row["calls"].update(calls.get(rpc, Counter()))
        row["misses"].update(causes.get(rpc, Counter()))
    classes: dict[str, dict[str, Any]] = {}
    for row in families.values():
        row["calls"] = dict(row["calls"])
        row["misses"] = dict(row["misses"])
        total = sum(row["calls"].values())
        row["total_calls"] = total
        row["per_request"] = _ratio(total, row["requests"])
        # A cold cache's misses are unavoidable in a short run: the calls that remain without
        # them (each first-read miss is one load; single-flight followers and lock waiters make
        # none, so this is a lower bound of what the first reads cost).
        row["first_reads"] = row["misses"]["first"]
        row["calls_after_first_reads"] = max(0, total - row["first_reads"])
        row["per_request_after_first_reads"] = _ratio(
            row["calls_after_first_reads"], row["requests"]
        )
        agg = classes.setdefault(
            row["class"],
            {"requests": 0, "calls": 0, "first_reads": 0, "calls_after_first_reads": 0},
        )
        agg["requests"] += row["requests"]
        agg["calls"] += total
        agg["first_reads"] += row["first_reads"]
        agg["calls_after_first_reads"] += row["calls_after_first_reads"]
    for agg in classes.values():
        agg["per_request"] = _ratio(agg["calls"], agg["requests"])
        agg["per_request_after_first_reads"] = _ratio(
            agg["calls_after_first_reads"], agg["requests"]
        )
    cached = classes.get("cached read", {})
    allowed = CACHED_GOAL * cached.get("requests", 0)
    return {
        "families": families,
        "classes": classes,
        "cached_goal": CACHED_GOAL,
        "cached_goal_met": cached.get("per_request") is not None
        and cached["per_request"] <= CACHED_GOAL,
        # The goal's budget (0.05 calls per cached read) and how much of it first reads alone use.
        "cached_allowed_calls": round(allowed, 1),
        "cached_first_read_share": round(cached.get("first_reads", 0) / allowed, 3)
        if allowed
        else None,
        "entries": misses_by_entry(metrics),
    }


MISS_CAUSES = ("first", "invalidated", "expired", "unreadable", "unknown")
"""``portal_cache_misses_total{why}`` (``services/common/cache/cache.py``, ``_miss_cause``)."""


def _ratio(calls: int, requests: int) -> float | None:
    return round(calls / requests, 4) if requests else None


def miss_causes_by_rpc(metrics: dict[str, dict[str, dict[str, int]]]) -> dict[str, Counter[str]]:
    """Cache misses by the RPC served when they happened (short name), then by cause."""
    out: dict[str, Counter[str]] = {}
    for series in metrics.values():
        for key, n in series.get("portal_cache_misses_total", {}).items():
            _entry, why, rpc = [*key.split("|"), "", ""][:3]
            out.setdefault(_short(rpc or "background"), Counter())[why] += n
    return out


def misses_by_entry(metrics: dict[str, dict[str, dict[str, int]]]) -> dict[str, dict[str, Any]]:
    """Per policy entry: lookups, hits, and misses by cause (every RPC, background included)."""
    out: dict[str, dict[str, Any]] = {}
    for series in metrics.values():
        for key, n in series.get("portal_cache_requests_total", {}).items():
            entry, result = key.split("|", 1)
            row = out.setdefault(entry, {"lookups": 0, "hits": 0, "misses": Counter()})
            if result in ("hit", "miss"):
                row["lookups"] += n
                row["hits"] += n if result == "hit" else 0
        for key, n in series.get("portal_cache_misses_total", {}).items():
            entry, why = key.split("|")[:2]
            row = out.setdefault(entry, {"lookups": 0, "hits": 0, "misses": Counter()})
            row["misses"][why] += n
    for row in out.values():
        row["misses"] = {why: row["misses"].get(why, 0) for why in MISS_CAUSES}
    return dict(sorted(out.items()))


def invoice_detail(
    metrics: dict[str, dict[str, dict[str, int]]], first_reads: int
) -> dict[str, Any]:
    """The invoice-detail hit ratio and why its lookups missed, from billing's
    ``portal_cache_misses_total{entry="invoices.detail",why}`` (every RPC): a user's first read of
    an invoice, an invalidation (a WHMCS invoice webhook such as a payment, a new invoice or an
    accepted order moved the user's generation), an expiry (TTL) or eviction. ``client_first_reads``
    is what the soak's users counted (their first read of each invoice), a cross-check: every
    first-read miss under ``GetInvoice`` is one of those."""
    requests = metrics.get("billing", {}).get("portal_cache_requests_total", {})
    misses = metrics.get("billing", {}).get("portal_cache_misses_total", {})
    hits = requests.get("invoices.detail|hit", 0)
    missed = requests.get("invoices.detail|miss", 0)
    causes: Counter[str] = Counter()
    first_get_invoice = 0
    for key, n in misses.items():
        entry, why, rpc = [*key.split("|"), "", ""][:3]
        if entry == "invoices.detail":
            causes[why] += n
            if why == "first" and _short(rpc) == "GetInvoice":
                first_get_invoice += n
    return {
        "lookups": hits + missed,
        "hits": hits,
        "misses": missed,
        "hit_ratio": round(hits / (hits + missed), 3) if hits + missed else None,
        "miss_causes": {
            "first_read": causes["first"],
            "invalidated": causes["invalidated"],
            "expired_or_evicted": causes["expired"],
            "other": sum(causes[w] for w in ("unreadable", "unknown")),
        },
        "first_reads_in_get_invoice": first_get_invoice,
        "client_first_reads": first_reads,
        "other_lookups": {
            k.split("|", 1)[1]: v
            for k, v in requests.items()
            if k.startswith("invoices.detail|") and k.split("|", 1)[1] not in ("hit", "miss")
        },
    }


def cache_ratios(metrics: dict[str, dict[str, dict[str, int]]]) -> dict[str, dict[str, Any]]:
    """Hit ratio per service (all entries) from ``portal_cache_requests_total``, and how many of
    the hits the process served from its own copies (``portal_cache_near_hits_total``)."""
    out = {}
    for service, series in sorted(metrics.items()):
        counts: Counter[str] = Counter()
        for key, n in series.get("portal_cache_requests_total", {}).items():
            counts[key.split("|", 1)[1]] += n
        total = counts["hit"] + counts["miss"]
        if total:
            near = sum(series.get("portal_cache_near_hits_total", {}).values())
            out[service] = {**counts, "hit_ratio": round(counts["hit"] / total, 3), "near": near}
    return out


def rss_growth(
    samples: list[dict[str, Any]], warmup_s: float, window_s: float, limit_pct: float
) -> dict[str, dict[str, Any]]:
    """Mean RSS in the first window after warm-up vs. the last window, per process."""
    if not samples:
        return {}
    end = samples[-1]["t"]
    first = [s for s in samples if warmup_s <= s["t"] < warmup_s + window_s] or samples[:1]
    last = [s for s in samples if s["t"] >= end - window_s] or samples[-1:]
    out = {}
    for name in samples[0]["rss_kib"]:
        a = mean(s["rss_kib"][name] for s in first if name in s["rss_kib"])
        b = mean(s["rss_kib"][name] for s in last if name in s["rss_kib"])
        growth = (b - a) / a * 100 if a else 0.0
        out[name] = {
            "start_mib": round(samples[0]["rss_kib"][name] / 1024, 1),
            "first_mib": round(a / 1024, 1),
            "last_mib": round(b / 1024, 1),
            "growth_pct": round(growth, 1),
            "flagged": growth > limit_pct,
        }
    return out


def cpu_use(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Average CPU % of one core per process over the run."""
    if len(samples) < 2:
        return {}
    a, b = samples[0], samples[-1]
    span = b["t"] - a["t"] or 1.0
    return {n: round((b["cpu_s"][n] - a["cpu_s"].get(n, 0)) / span * 100, 1) for n in b["cpu_s"]}


def summarize(
    *,
    config: dict[str, Any],
    started_at: str,
    startup_s: float,
    load_before: tuple[float, float, float],
    endpoints: dict[str, Endpoint],
    measured: dict[str, Any],
    secrets: dict[str, Any],
    limits: dict[str, float],
) -> dict[str, Any]:
    stats = endpoint_stats(endpoints)
    requests = sum(s["count"] for s in stats.values())
    errors = sum(s["errors"] for s in stats.values())
    calls = measured["upstream_calls"]
    upstream_total = sum(sum(c.values()) for c in calls.values())
    samples = measured["samples"]
    growth = rss_growth(samples, limits["warmup_s"], limits["window_s"], limits["rss_limit_pct"])
    cache = cache_ratios(measured["metrics"])
    error_rate = errors / requests if requests else 1.0
    checks = {
        "requests": requests > 0,
        "error_rate": error_rate <= limits["max_error_rate"],
        "rss_growth": bool(growth) and not any(g["flagged"] for g in growth.values()),
        "secrets": not secrets["findings"],
    }
    loads = [s["load1"] for s in samples]
    return {
        "config": config,
        "started_at": started_at,
        "startup_s": round(startup_s, 1),
        "setup_s": measured["setup_s"],
        "duration_s": measured["duration_s"],
        "requests": requests,
        "errors": errors,
        "error_rate": round(error_rate, 5),
        "throughput_rps": round(requests / measured["duration_s"], 1),
        "orders_approved": measured.get("orders_approved", 0),
        "endpoints": stats,
        "upstream": {
            "calls": calls,
            "total": upstream_total,
            "per_user_request": round(upstream_total / requests, 3) if requests else None,
            "per_system_per_request": {
                n: round(sum(c.values()) / requests, 3) if requests else None
                for n, c in calls.items()
            },
        },
        "by_kind": attribution(measured["metrics"]),
        "by_kind_second_half": attribution(measured["metrics_second_half"]),
        "invoice_detail": invoice_detail(measured["metrics"], measured["invoice_first_reads"]),
        "cache": cache,
        "rss": {
            "interval_s": config["sample_s"],
            "growth": growth,
            "idle_after": measured.get("idle_after", {}),
            "samples": samples,
        },
        "cpu": {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load_before],
            "load1_mean": round(mean(loads), 2) if loads else None,
            "load1_max": round(max(loads), 2) if loads else None,
            "process_cpu_pct": cpu_use(samples),
        },
        "secrets": secrets,
        "limits": limits,
        "checks": checks,
        "passed": all(checks.values()),
    }


def markdown(r: dict[str, Any], json_path: Path | str = "") -> str:
    c = r["config"]
    checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in r["checks"].items())
    out = [
        f"Run {r['started_at']}: {c['users']} users for {r['duration_s']:.0f} s "
        f"(think time {c['think_s']} s mean, access tokens {c['token_ttl']} s); stack start "
        f"{r['startup_s']} s, customers created and registered in {r['setup_s']} s; "
        f"load average {r['cpu']['load_before'][0]} before, {r['cpu']['load1_mean']} mean / "
        f"{r['cpu']['load1_max']} max during the run ({r['cpu']['cpus']} cores). "
        f"Result: **{'passed' if r['passed'] else 'FAILED'}** "
        f"({checks})" + (f"; raw numbers in `{json_path}`." if json_path else "."),
        "",
        f"**{r['requests']:,} requests, {r['errors']} errors ({r['error_rate'] * 100:.3f} %), "
        f"{r['throughput_rps']} req/s.**",
        "",
        "| endpoint | requests | errors | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for label, s in r["endpoints"].items():
        reasons = ", ".join(f"{k}: {v}" for k, v in s["error_reasons"].items())
        errors = f"{s['errors']} ({reasons})" if s["errors"] else "0"
        out.append(f"| `{label}` | {s['count']:,} | {errors} | {s['p50_ms']} | {s['p99_ms']} | "
                   f"{s['max_ms']} |")  # fmt: skip
    out += ["", *kind_lines(r)]
    up = r["upstream"]
    per_system = ", ".join(f"{n} {v}" for n, v in up["per_system_per_request"].items())
    out += [
        "",
        f"**Upstream calls per user request: {up['per_user_request']}** ({per_system}; "
        f"{up['total']:,} calls to the sandboxes during the run, WHMCS hook deliveries, the CDC "
        f"consumer and the fulfillment of the {r['orders_approved']} orders staff approved "
        "included). Busiest: "
        + ", ".join(
            f"{sys}:{action} {n:,}"
            for sys, action, n in sorted(
                ((s, a, n) for s, calls in up["calls"].items() for a, n in calls.items()),
                key=lambda x: -x[2],
            )[:6]
        )
        + ".",
        "",
        "Cache hit ratio (service lookups during the run; in brackets the hits served from the "
        "process's own copies, without Redis): "
        + ", ".join(
            f"{n} {v['hit_ratio']:.1%} ({v.get('near', 0):,} of {v.get('hit', 0):,})"
            for n, v in r["cache"].items()
        )
        + ".",
        "",
        f"RSS (sampled every {r['rss']['interval_s']} s; first window after "
        f"{r['limits']['warmup_s']:.0f} s of warm-up vs. the last {r['limits']['window_s']:.0f} s;"
        f" flagged above {r['limits']['rss_limit_pct']:.0f} %) and CPU (% of one core):",
        "",
        "| process | start MiB | first MiB | last MiB | growth | CPU % | idle after MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    cpu = r["cpu"]["process_cpu_pct"]
    idle = r["rss"].get("idle_after", {})
    for name, g in r["rss"]["growth"].items():
        flag = " ⚠" if g["flagged"] else ""
        m = idle.get(name)
        rest = f"{m['rss']} ({m['anon']} / {m['file']}; PSS {m['pss']})" if m else ""
        out.append(f"| {name} | {g['start_mib']} | {g['first_mib']} | {g['last_mib']} | "
                   f"{g['growth_pct']:+.1f} %{flag} | {cpu.get(name, '')} | {rest} |")  # fmt: skip
    if idle:
        out += [
            "",
            f"Idle after: each process {r['limits']['idle_s']:.0f} s after the last request "
            "(RSS; anonymous / file-backed: the file-backed part is the interpreter's and the "
            "libraries' mapped code, shared by every process mapping the same files; PSS divides "
            "each shared page by the processes mapping it).",
        ]
    sec = r["secrets"]
    out += [
        "",
        f"Secret scan: {sec['scanned_lines']:,} log lines of every process, "
        f"{sec['known_secrets']:,} known secrets (passwords, access and refresh tokens, payment "
        f"links, configured secrets, signing keys) plus token/key patterns: "
        + (f"**{len(sec['findings'])} finding(s)**" if sec["findings"] else "no finding")
        + ".",
    ]
    out += [f"    {f}" for f in sec["findings"][:20]]
    return "\n".join(out) + "\n"


def kind_lines(r: dict[str, Any]) -> list[str]:
    """The upstream calls per request by kind, and the invoice-detail hit ratio, as markdown."""
    by, inv = r["by_kind"], r["invoice_detail"]
    classes = by["classes"]

    def per(kind: str) -> str:
        c = classes.get(kind, {"requests": 0, "calls": 0, "per_request": None})
        return f"{c['per_request']} ({c['calls']:,} calls / {c['requests']:,} requests)"

    background = classes.get("background", {}).get("calls", 0)
    met = "met" if by["cached_goal_met"] else "**not met**"
    out = [
        f"**Upstream calls per request, by kind** (the services' own counters: calls made while "
        f"serving an RPC, `portal_upstream_calls_by_rpc_total`, over the RPCs served, "
        f"`portal_rpc_handled_total`): cached reads **{per('cached read')}**, goal ≤ "
        f"{by['cached_goal']} {met}; live-by-design reads (support cases) {per('live read')}; "
        f"writes and sign-in {per('write or sign-in')}; background work apart from user requests "
        f"(CDC consumer, fulfillment of approved orders, outbox, WHMCS webhook deliveries): "
        f"{background:,} calls ({background / r['requests']:.3f} per user request)."
        if r["requests"]
        else "No request, no attribution.",
    ]
    cached = classes.get("cached read")
    if cached and cached["requests"]:
        out += [
            "",
            f"Cached reads without the calls of first reads (a user's first read of an entry, "
            f'`portal_cache_misses_total{{why="first"}}`, unavoidable in a cold cache): '
            f"**{cached['per_request_after_first_reads']}** "
            f"({cached['calls_after_first_reads']:,} calls). The goal allows "
            f"{by['cached_allowed_calls']:,} calls ({by['cached_goal']} x "
            f"{cached['requests']:,}); the {cached['first_reads']:,} first reads alone use "
            f"{by['cached_first_read_share']:.0%} of it.",
        ]
    half = r["by_kind_second_half"]
    steady = half["classes"].get("cached read")
    if steady and steady["requests"]:
        met_half = "met" if half["cached_goal_met"] else "**not met**"
        out += [
            "",
            f"Cached reads in the second half of the run (the services' counters read at "
            f"{r['limits']['steady_from_s']:.0f} s and at the end; most entries have been read "
            f"once by then): **{steady['per_request']}** ({steady['calls']:,} calls / "
            f"{steady['requests']:,} requests, {steady['first_reads']:,} of them first reads), "
            f"goal ≤ {half['cached_goal']} {met_half}.",
        ]
    out += [
        "",
        "| family | kind | requests | upstream calls | per request | cache misses: first / "
        "invalidated / expired | per request without first reads | per request, second half |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {
        "cached read": 0,
        "live read": 1,
        "write or sign-in": 2,
        "internal": 3,
        "background": 4,
    }
    rows = sorted(by["families"].items(), key=lambda kv: (order[kv[1]["class"]], kv[0]))
    for family, row in rows:
        calls = ", ".join(f"{sys} {n:,}" for sys, n in sorted(row["calls"].items())) or "0"
        per_request = row["per_request"] if row["per_request"] is not None else "-"
        m = row["misses"]
        misses = (
            f"{m['first']:,} / {m['invalidated']:,} / {m['expired']:,}" if sum(m.values()) else "-"
        )
        after = row["per_request_after_first_reads"]
        second = half["families"].get(family, {}).get("per_request")
        out.append(
            f"| {family} | {row['class']} | {row['requests']:,} | {calls} | {per_request} | "
            f"{misses} | {after if after is not None else '-'} | "
            f"{second if second is not None else '-'} |"
        )
    out += [
        "",
        "Cache misses by cause per policy entry (every RPC and background work; "
        "`portal_cache_misses_total{entry,why}`):",
        "",
        "| entry | lookups | hit ratio | first | invalidated | expired | other |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry, e in by["entries"].items():
        m = e["misses"]
        ratio = f"{e['hits'] / e['lookups']:.1%}" if e["lookups"] else "-"
        out.append(
            f"| `{entry}` | {e['lookups']:,} | {ratio} | {m['first']:,} | {m['invalidated']:,} | "
            f"{m['expired']:,} | {m['unreadable'] + m['unknown']:,} |"
        )
    causes = inv["miss_causes"]
    ratio = f"{inv['hit_ratio']:.1%}" if inv["hit_ratio"] is not None else "-"
    out += [
        "",
        f"**Invoice detail cache: hit ratio {ratio}** ({inv['lookups']:,} lookups, "
        f"{inv['misses']:,} misses: {causes['first_read']:,} a user's first read of an invoice, "
        f"{causes['invalidated']:,} invalidated (a WHMCS invoice webhook: a payment, a new "
        f"invoice, an accepted order), {causes['expired_or_evicted']:,} expired (TTL) or "
        f"evicted, {causes['other']:,} other; the users counted {inv['client_first_reads']:,} "
        "first reads of an invoice).",
    ]
    return out


def update_readme(path: Path, text: str) -> None:
    """Replace the block between the markers (append a section with them if missing)."""
    readme = path.read_text()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        readme = head + block + rest.split(END, 1)[1]
    else:
        readme = readme.rstrip("\n") + "\n\n## Soak results\n\n" + block + "\n"
    path.write_text(readme)
