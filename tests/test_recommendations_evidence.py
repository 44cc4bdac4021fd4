"""A recommendation's evidence as text (analysis.recommendations.evidence): money from nano-units
(per hour where hourly), percentages, humanized keys, a purchase's terms one line each, lists
summarized; data strings come out literally (markup) or escaped (control characters), never
interpreted. The last test checks the TUI's thin styling layer keeps them that way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from analysis.recommendations import Recommendation
from analysis.recommendations.evidence import evidence, evidence_value, humanize_key, term_line
from cache.text import clean

# Shapes as the rules write them (taken from the demo's findings).
IDLE = {
    "action": "stop_instance", "cost_per_month_now": "$8,356.07", "cpu_avg_pct": 2.02, "cpu_p99_pct": 8.78,
    "instance_type": "p3.8xlarge", "metric_days": 10, "network_avg_bytes": 4671, "price_now": "12240000000",
    "summary": "CPU avg 2.0% (p99 8.8%), network 4,671 B/sample, over 10 days", "window_days": 30,
}
PURCHASE = {
    "baseline_hourly_nanos": 1505300000, "baseline_percentile": 10, "daily_usage_nanos": [36127200000] * 30,
    "family": "Dsv3", "instance_equivalents": 3.5, "instance_hourly_price_nanos": 430100000,
    "terms": {
        "1yr": {"break_even_utilization_pct": 64.0, "discount_pct": 36.0, "hourly_commitment_nanos": 963392000,
                "monthly_saving_nanos": 395592840000, "payment_option": "No Upfront", "rate_basis": "assumed default"},
        "3yr": {"break_even_utilization_pct": 43.0, "discount_pct": 57.0, "hourly_commitment_nanos": 647279000,
                "monthly_saving_nanos": 626355330000, "payment_option": "No Upfront", "rate_basis": "prices table"},
    },
    "window": ["2026-11-02", "2026-12-01"],
}


def test_keys_are_humanized() -> None:
    assert humanize_key("cpu_avg_pct") == "CPU avg"
    assert humanize_key("baseline_hourly_nanos") == "baseline hourly"
    assert humanize_key("snapshot_ids") == "snapshot IDs"
    assert humanize_key("VPC_Id") == "VPC ID"
    assert humanize_key("memory_gib_after") == "memory GiB after"
    assert humanize_key("_nanos") == "_nanos"  # nothing left: the key as it is


def test_idle_instance_evidence() -> None:
    items, lines = evidence(IDLE)
    assert items == [
        "cost per month now $8,356.07", "CPU avg 2.0%", "CPU p99 8.8%", "instance type p3.8xlarge",
        "metric days 10", "network avg bytes 4,671", "price now $12.2400/h", "window days 30",
    ]  # no summary (its own line), no action (bookkeeping)
    assert lines == []


def test_purchase_terms_are_lines_of_their_own() -> None:
    items, lines = evidence(PURCHASE)
    assert lines == [
        "1yr: 36% off, $0.9634/h, saves $395.59/mo, break-even 64%, assumed default",
        "3yr: 57% off, $0.6473/h, saves $626.36/mo, break-even 43%",  # the default basis is not repeated
    ]
    assert items == [
        "baseline hourly $1.5053/h", "baseline percentile 10",
        "daily usage 30 values, $36.13 to $36.13 (mean $36.13)", "family Dsv3", "instance equivalents 3.5",
        "instance hourly price $0.4301/h", "window 2026-11-02 → 2026-12-01",
    ]
    assert term_line("1yr", {"discount_pct": 30}, "EUR") == "1yr: 30% off"
    assert term_line("5yr", {"monthly_saving_nanos": "1000000000"}, "EUR") == "5yr: saves €1.00/mo"


def test_values_money_lists_and_numbers() -> None:
    items, lines = evidence({
        "disks": ["vol-a", "vol-b"], "instances": ["i-1", "i-2", "i-3", "i-4"], "open_ports": [22],
        "compute_billed": False, "memory_gib_after": 16.0, "big": 12345678, "ratio": 1234.6,
        "sizes_nanos": [1000000000, 3000000000, 2000000000], "two_nanos": [1000000000, 3000000000],
        "bad_nanos": ["x", "y"], "monthly_cost_nanos": "-2500000000", "share_pct": 12.25, "full_pct": 100,
        "empty": "", "none": None, "nothing": [], "tags": {"team": "ml"}, "protected": True,
    }, "EUR")
    assert items == [
        "disks vol-a, vol-b", "instances i-1, i-2 and 2 more", "open ports 22", "compute billed no",
        "memory GiB after 16", "big 12,345,678", "ratio 1,235", "sizes 3 values, €1.00 to €3.00 (mean €2.00)",
        "two 2 values, €1.00 to €3.00", "bad 2 values", "monthly cost -€2.50/mo", "share 12.2%", "full 100%",
    ]
    assert lines == []
    assert evidence_value("cost_nanos", 5000000000, "XYZ") == "5.00 XYZ"
    assert evidence_value("price_after", "$0.2150/h") == "$0.2150/h"  # already text: kept
    assert evidence_value("rates", {"hourly_nanos": 1000000, "note": "", "spot_pct": 70}) == \
        "hourly $0.0010/h, spot 70%"


def test_nested_tables_other_than_terms() -> None:
    items, lines = evidence({"per_zone": {"eu-west-1a": {"cost_monthly_nanos": 5000000000, "count": 3},
                                          "eu-west-1b": {"cost_monthly_nanos": 0}}})
    assert items == []
    assert lines == ["eu-west-1a: cost monthly $5.00/mo, count 3", "eu-west-1b: cost monthly $0.00/mo"]


def test_hostile_strings_come_out_literally() -> None:
    items, lines = evidence({
        "[bold]k[/bold]": "[bold]v[/bold]",
        "esc": "\x1b[31mred\x1b[0m",
        "nl": "first\nsecond\rthird",
        "list": ["[i]x", "y\nz"],
        "bidi": "abc\u202edef",
        "per_zone": {"eu\x1b": {"cost_monthly_nanos": 5000000000, "note": "[red]n"}},
        "terms": {"1yr\n[b]": {"rate_basis": "quote\x1b[2J", "discount_pct": 30}},
    })
    assert items == [
        "[bold]k[/bold] [bold]v[/bold]",
        "esc \\x1b[31mred\\x1b[0m",
        "nl first\\x0asecond\\x0dthird",
        "list [i]x, y\\x0az",
        "bidi abc\\u202edef",
    ]
    assert lines == ["eu\\x1b: cost monthly $5.00/mo, note [red]n", "1yr\\x0a[b]: 30% off, quote\\x1b[2J"]
    assert not any(c in "".join(items + lines) for c in "\x1b\n\r\u202e")


def test_long_data_is_cut() -> None:
    [item], _ = evidence({"k" * 40: "v" * 100, "summary": "skipped"})
    key, value = item.split(" ")
    assert key == "k" * 29 + "…" and value == "v" * 59 + "…"
    assert evidence_value("ids", ["x" * 50]) == "x" * 39 + "…"


def test_clean_is_shared_with_the_tui() -> None:
    from tui.widgets import clean as tui_clean

    assert tui_clean is clean


def test_detail_pane_appends_evidence_as_text() -> None:
    from tui.screens.recommendations.detail import detail_text

    rec = Recommendation(
        rule="idle_instance", provider_name="AWS", resource_id="i-1\x1b]0;title\x07", resource_name="[bold]web[/]",
        resource_type="instance", sub_account_id="acct", region_id="eu-west-1", monthly_saving=8356070000000,
        saving_basis="observed: [link=x]y", detail={**IDLE, "summary": "line\nbreak", "note": "[red]x",
                                                    "protected": True, "protected_by": "tag [b]"},
        first_seen=datetime(2026, 6, 1, tzinfo=UTC), status="dismissed", status_reason="why\x1b[2J",
    )
    text = detail_text(rec)
    assert text.plain.splitlines() == [
        "Idle instances · [bold]web[/]",
        "i-1\\x1b]0;title\\x07",
        "instance · AWS / acct / eu-west-1",
        "line\\x0abreak",
        "Saving $8,356.07/month · observed: [link=x]y",
        "Evidence cost per month now $8,356.07 · CPU avg 2.0% · CPU p99 8.8% · instance type p3.8xlarge · "
        "metric days 10 · network avg bytes 4,671 · price now $12.2400/h · window days 30 · note [red]x",
        "First seen 2026-06-01 · status dismissed: why\\x1b[2J",
        "Protected (tag [b]): cleanup will refuse it",
    ]
    styles = {str(s.style) for s in text.spans}
    assert not any("link" in s or s == "red" for s in styles)  # the data's markup was not parsed
