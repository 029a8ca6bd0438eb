"""The soak (``bench/soak.py``, ``make soak``) in miniature: 10 customers created in the sandboxes,
registered through the gateway and active for 15 s on a stack of its own; the run must be clean
(no error, no secret in any process's log) and its result complete (per-endpoint numbers, upstream
calls per request, RSS samples of every process and its memory idle after the load), and the
README block it writes is replaced, not appended, on the next run."""

from __future__ import annotations

from pathlib import Path

from bench.soak import SoakConfig, run_soak
from bench.soak_report import BEGIN, END, markdown, update_readme
from tools.stack import SANDBOXES, SERVICES

PROCESSES = {*SERVICES, *SANDBOXES, "envoy"}


async def test_a_short_soak_is_clean_and_fully_measured(tmp_path: Path) -> None:
    cfg = SoakConfig(users=10, seconds=15, think_s=1.0, max_error_rate=0.0)
    result = await run_soak(cfg, tmp_path / "run")

    failed = {k: v["error_reasons"] for k, v in result["endpoints"].items() if v["errors"]}
    assert result["errors"] == 0, failed
    assert result["secrets"]["findings"] == []
    # RSS growth is the full soak's verdict; 15 s are too short to judge it.
    checks = {k: v for k, v in result["checks"].items() if k != "rss_growth"}
    assert checks == {"requests": True, "error_rate": True, "secrets": True}

    endpoints = result["endpoints"]
    assert {"GET /v1/me", "GET /v1/invoices"} <= set(endpoints)
    assert len(endpoints) >= 8, sorted(endpoints)
    assert result["requests"] == sum(e["count"] for e in endpoints.values()) >= 50
    for stats in endpoints.values():
        assert 0 < stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]

    upstream = result["upstream"]
    assert upstream["total"] == sum(sum(c.values()) for c in upstream["calls"].values()) > 0
    assert upstream["per_user_request"] == round(upstream["total"] / result["requests"], 3)

    # Upstream calls by request kind, from the services' counters: every user request the soak
    # made is an RPC served.
    by = result["by_kind"]
    families, classes = by["families"], by["classes"]
    assert {"invoices", "invoice detail", "me", "cases"} <= set(families), sorted(families)
    assert families["invoices"]["class"] == families["me"]["class"] == "cached read"
    assert families["cases"]["class"] == "live read"
    assert families["cases"]["total_calls"] >= families["cases"]["requests"] > 0  # never cached
    for kind, agg in classes.items():
        rows = [f for f in families.values() if f["class"] == kind]
        assert agg["calls"] == sum(f["total_calls"] for f in rows)
        assert agg["requests"] == sum(f["requests"] for f in rows)
        if agg["requests"]:
            assert agg["per_request"] == round(agg["calls"] / agg["requests"], 4)
    user_kinds = ("cached read", "live read", "write or sign-in")
    assert sum(classes[k]["requests"] for k in user_kinds if k in classes) >= result["requests"]
    assert by["cached_goal_met"] == (classes["cached read"]["per_request"] <= 0.05)

    # The second half (counters read at half time and at the end) is a part of the whole run.
    half = result["by_kind_second_half"]
    assert result["limits"]["steady_from_s"] == 7.5
    assert 0 < half["classes"]["cached read"]["requests"] < classes["cached read"]["requests"]
    for family, row in half["families"].items():
        whole = families[family]
        assert row["requests"] <= whole["requests"] and row["total_calls"] <= whole["total_calls"]
        for why, n in row["misses"].items():
            assert n <= whole["misses"][why]
    assert half["cached_goal_met"] == (half["classes"]["cached read"]["per_request"] <= 0.05)

    # Cache misses by cause (the library's counters): per family they add up to at most one
    # load each, and the calls without first reads are what is left of the family's calls.
    for row in families.values():
        assert set(row["misses"]) == {"first", "invalidated", "expired", "unreadable", "unknown"}
        assert row["first_reads"] == row["misses"]["first"]
        assert row["calls_after_first_reads"] == max(0, row["total_calls"] - row["first_reads"])
    cached = classes["cached read"]
    cached_rows = [f for f in families.values() if f["class"] == "cached read"]
    assert 0 < cached["first_reads"] == sum(f["first_reads"] for f in cached_rows)
    assert cached["calls_after_first_reads"] <= cached["calls"]
    assert by["cached_allowed_calls"] == round(0.05 * cached["requests"], 1)
    entries = by["entries"]
    assert {"invoices.list", "invoices.detail", "account_links.user"} <= set(entries)
    for e in entries.values():
        assert e["hits"] + sum(e["misses"].values()) == e["lookups"]

    detail = result["invoice_detail"]
    causes = detail["miss_causes"]
    assert detail["lookups"] == detail["hits"] + detail["misses"] > 0
    assert detail["lookups"] == endpoints["GET /v1/invoices/{id}"]["count"]
    assert 0 < causes["first_read"] <= detail["misses"]
    assert detail["misses"] == (
        causes["first_read"] + causes["invalidated"] + causes["expired_or_evicted"]
        + causes["other"]
    )  # fmt: skip
    # The users' own count of their first read of each invoice: each such read is the key's
    # first fill, unless another RPC filled it before (then it is a hit).
    assert 0 < detail["first_reads_in_get_invoice"] <= detail["client_first_reads"]

    samples = result["rss"]["samples"]
    assert len(samples) >= 5
    assert all(set(s["rss_kib"]) == PROCESSES for s in samples)
    assert all(kib > 10_000 for s in samples for kib in s["rss_kib"].values())
    assert set(result["rss"]["growth"]) == PROCESSES
    # Memory idle after the load, read from smaps_rollup a fifth of the run after the last request.
    assert result["limits"]["idle_s"] == 3.0
    idle = result["rss"]["idle_after"]
    assert set(idle) == PROCESSES
    for m in idle.values():
        assert m["rss"] > 10 and m["anon"] > 0 and m["file"] > 0 and 0 < m["pss"] <= m["rss"]
        assert abs(m["anon"] + m["file"] - m["rss"]) <= 0.1

    scanned = result["secrets"]
    assert set(scanned["lines_per_process"]) >= PROCESSES
    assert scanned["known_secrets"] >= 10 * 3  # a password, an access and a refresh token each

    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## Soak\n\nHow to run it.\n")
    text = markdown(result)
    assert "`GET /v1/invoices`" in text and "Upstream calls per user request" in text
    assert "Upstream calls per request, by kind" in text and "Invoice detail cache" in text
    assert "Cache misses by cause per policy entry" in text and "without first reads" in text
    m = idle["identity"]
    assert f"| {m['rss']} ({m['anon']} / {m['file']}; PSS {m['pss']}) |" in text
    assert "Idle after: each process 3 s after the last request" in text
    update_readme(readme, text)
    update_readme(readme, text.replace("passed", "re-run"))
    body = readme.read_text()
    assert body.count(BEGIN) == body.count(END) == 1 and "How to run it." in body
    assert "re-run" in body
