"""The soak's arithmetic (bench/soak_report.py): percentiles, the RSS growth verdict over the
first-after-warm-up and last windows, and the README block that is replaced, not appended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.soak_report import BEGIN, END, cache_ratios, percentile, rss_growth, update_readme


def samples(values: dict[str, list[int]], every: float = 10.0) -> list[dict[str, Any]]:
    n = len(next(iter(values.values())))
    return [{"t": i * every, "rss_kib": {k: v[i] for k, v in values.items()}} for i in range(n)]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        50.0, 99.0, 100.0,
    )  # fmt: skip
    assert percentile([7.0], 0.99) == 7.0 and percentile([], 0.5) == 0.0


def test_rss_growth_compares_the_window_after_warm_up_with_the_last_one() -> None:
    # t = 0..110 s every 10 s; warm-up 20 s, windows of 30 s: first = t 20..40, last = t 80..110.
    steady = [50_000, 90_000, 100_000, 100_000, 100_000, 101_000, 101_000, 102_000, 104_000,
              104_000, 104_000, 104_000]  # fmt: skip
    leaking = [50_000, 90_000, 100_000, 100_000, 100_000, 105_000, 110_000, 115_000, 120_000,
               125_000, 130_000, 135_000]  # fmt: skip
    growth = rss_growth(samples({"billing": steady, "envoy": leaking}), 20, 30, 10.0)
    assert growth["billing"]["growth_pct"] == 4.0 and not growth["billing"]["flagged"]
    assert growth["envoy"]["growth_pct"] == 27.5 and growth["envoy"]["flagged"]
    assert growth["envoy"]["start_mib"] == round(50_000 / 1024, 1)  # warm-up is not judged


def test_readme_block_is_replaced_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n## Soak\n\n{BEGIN}\nold numbers\n{END}\n\nafter\n")
    update_readme(readme, "run 1\n")
    update_readme(readme, "run 2\n")
    assert readme.read_text() == f"# Benchmarks\n\n## Soak\n\n{BEGIN}\nrun 2\n{END}\n\nafter\n"


def test_readme_without_markers_gets_a_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n")
    update_readme(readme, "run 1\n")
    assert readme.read_text() == f"# Benchmarks\n\n## Soak results\n\n{BEGIN}\nrun 1\n{END}\n"


def test_cache_ratios_count_the_hits_served_from_the_process() -> None:
    metrics = {
        "billing": {
            "portal_cache_requests_total": {"invoices.list|hit": 90, "invoices.list|miss": 10},
            "portal_cache_near_hits_total": {"invoices.list": 30},
        },
        "identity": {"portal_cache_requests_total": {"account_links.user|hit": 5}},
    }
    ratios = cache_ratios(metrics)
    assert ratios["billing"]["hit_ratio"] == 0.9 and ratios["billing"]["near"] == 30
    assert ratios["identity"]["near"] == 0
