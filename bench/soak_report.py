"""The soak's numbers: the result document (JSON), its markdown summary, and the "Soak results"
block of ``bench/README.md`` (replaced between markers on every ``make soak``)."""

from __future__ import annotations

import math
import os
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
    cache = {
        name: {**counts, "hit_ratio": round(counts.get("hit", 0) / total, 3)}
        for name, counts in measured["cache"].items()
        if (total := counts.get("hit", 0) + counts.get("miss", 0))
    }
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
        "cache": cache,
        "rss": {"interval_s": config["sample_s"], "growth": growth, "samples": samples},
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
        "Cache hit ratio (service lookups during the run): "
        + ", ".join(f"{n} {v['hit_ratio']:.1%}" for n, v in r["cache"].items())
        + ".",
        "",
        f"RSS (sampled every {r['rss']['interval_s']} s; first window after "
        f"{r['limits']['warmup_s']:.0f} s of warm-up vs. the last {r['limits']['window_s']:.0f} s;"
        f" flagged above {r['limits']['rss_limit_pct']:.0f} %) and CPU (% of one core):",
        "",
        "| process | start MiB | first MiB | last MiB | growth | CPU % |",
        "|---|---|---|---|---|---|",
    ]
    cpu = r["cpu"]["process_cpu_pct"]
    for name, g in r["rss"]["growth"].items():
        flag = " ⚠" if g["flagged"] else ""
        out.append(f"| {name} | {g['start_mib']} | {g['first_mib']} | {g['last_mib']} | "
                   f"{g['growth_pct']:+.1f} %{flag} | {cpu.get(name, '')} |")  # fmt: skip
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
