"""The TOML config: sources, rules, budgets, protection, read_only; one-line errors, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.config import load_config
from providers.errors import InputError
from tui.cli import main

FULL = """
read_only = true

[sources.prod]
kind = "aws"
profile = "prod-readonly"
regions = ["us-east-1", "eu-west-1", "us-east-1"]
cost_source = "athena"
athena_database = "cur"
athena_table = "cur2"
athena_workgroup = "primary"
athena_output_location = "s3://bucket/results/"
athena_schema = "focus"
backfill_months = 6
refetch_days = 5

[sources.dev]
kind = "aws"
endpoint_url = "http://127.0.0.1:5000/"

[rules.idle_instance]
min_days = 14
cpu_max_pct = 5.0

[budgets.platform]
amount = "12000.50"
filter = { sub_account_id = ["123456789012"] }

[budgets.ml]
amount = 800
currency = "EUR"
period = "quarter"

[protection]
tags = ["costdeck:protect", "env=prod"]
resource_ids = ["i-0abc"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_full_config_loads_with_defaults(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, FULL))
    assert c.read_only is True and c.exists
    prod, dev = c.sources["prod"], c.sources["dev"]
    assert prod.kind == "aws" and prod.options.regions == ["us-east-1", "eu-west-1"]
    assert prod.options.backfill_months == 6 and prod.options.refetch_days == 5
    assert prod.options.athena_schema == "focus"
    d = dev.options.as_dict()
    assert {k: d[k] for k in ("endpoint_url", "regions", "cost_source", "athena_schema", "backfill_months",
                              "refetch_days", "profile")} == {
        "endpoint_url": "http://127.0.0.1:5000", "regions": "all", "cost_source": "cost-explorer",
        "athena_schema": "cur2", "backfill_months": 13, "refetch_days": 3, "profile": None}
    assert c.rules == {"idle_instance": {"min_days": 14, "cpu_max_pct": 5.0}}
    assert c.budgets["platform"].amount_nanos == 12_000_500_000_000 and c.budgets["platform"].currency == "USD"
    assert c.budgets["ml"].period == "quarter" and c.budgets["ml"].currency == "EUR"
    assert c.protection.tags == ["costdeck:protect", "env=prod"] and c.protection.resource_ids == ["i-0abc"]
    assert [s.name for s in c.select(["dev"])] == ["dev"] and len(c.select(None)) == 2


def test_missing_default_config_is_empty_but_missing_explicit_is_an_error(tmp_path: Path) -> None:
    c = load_config(None)  # COSTDECK_CONFIG points to a missing file (conftest)
    assert c.sources == {} and not c.exists and c.protection.tags == ["costdeck:protect"] and not c.read_only
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sources.prod]\nkind = "aws"\nregions = 5\n',
         'key sources.prod.regions: expected a list of region names or "all", got 5'),
        ('[sources.prod]\nkind = "aws"\nregions = ["us-east-1", "mars-1"]\n',
         'key sources.prod.regions: expected a list of region names or "all", got ["us-east-1", "mars-1"]'),
        ('[sources.prod]\nkind = "azure-classic"\n',
         'key sources.prod.kind: expected one of "aws", "azure", "gcp", "mlflow", "opencost", got "azure-classic"'),
        ('[sources.prod]\nprofile = "x"\n', "key sources.prod.kind: missing (known kinds: aws, azure, gcp, mlflow, opencost)"),
        ('[sources.prod]\nkind = "aws"\nregion_list = ["us-east-1"]\n',
         'key sources.prod.region_list: unknown option for kind "aws" (known: athena_database'),
        ('[sources.prod]\nkind = "aws"\naws_secret_access_key = "abc"\n',
         "key sources.prod.aws_secret_access_key: credentials are never kept in the config"),
        ('[sources.prod]\nkind = "aws"\nsession_token = "abc"\n',
         "key sources.prod.session_token: credentials are never kept in the config"),
        ('password = "hunter2"\n', "key password: credentials are never kept in the config"),
        ('[sources.prod]\nkind = "aws"\nrole_arn = "arn:aws:iam::1:role/x"\n',
         "key sources.prod.role_arn: assume a role through an AWS profile"),
        ('[sources.prod]\nkind = "aws"\nbackfill_months = "13"\n',
         'key sources.prod.backfill_months: expected a whole number from 1 to 38, got "13"'),
        ('[sources.prod]\nkind = "aws"\nrefetch_days = true\n',
         "key sources.prod.refetch_days: expected a whole number from 0 to 62, got true"),
        ('[sources.prod]\nkind = "aws"\ncost_source = "cur"\n',
         'key sources.prod.cost_source: expected "cost-explorer" or "athena", got "cur"'),
        ('[sources.prod]\nkind = "aws"\ncost_source = "athena"\nathena_table = "t"\n',
         'key sources.prod.athena_database: required when cost_source = "athena"'),
        ('[sources.prod]\nkind = "aws"\ncost_source = "athena"\nathena_database = "d"\nathena_table = "t; DROP"\n',
         'key sources.prod.athena_table: expected an SQL identifier (letters, digits, _), got "t; DROP"'),
        ('[sources.prod]\nkind = "aws"\nendpoint_url = "localhost:5000"\n',
         'key sources.prod.endpoint_url: expected an http:// or https:// URL, got "localhost:5000"'),
        ('[sources.prod]\nkind = "aws"\nsteps = ["costs", "gossip"]\n',
         'key sources.prod.steps: expected a list of steps from "costs", "inventory"'),
        ('[sources."bad name"]\nkind = "aws"\n', 'key sources.bad name: a source name is letters'),
        ("sources = 3\n", "key sources: expected a table, got 3"),
        ("read_only = \"yes\"\n", 'key read_only: expected true or false, got "yes"'),
        ("colour = 1\n", "key colour: unknown key (known: sources, rules, budgets, protection, anomalies, notify, read_only)"),
        ("[rules]\nidle = 3\n", "key rules.idle: expected a table, got 3"),
        ("[budgets.x]\ncurrency = \"USD\"\n", "key budgets.x.amount: missing"),
        ("[budgets.x]\namount = -5\n", "key budgets.x.amount: expected a positive amount, got -5"),
        ("[budgets.x]\namount = 5\ncurrency = \"usd\"\n", 'key budgets.x.currency: expected a 3-letter currency code'),
        ("[budgets.x]\namount = 5\nfilter = { team = 3 }\n",
         "key budgets.x.filter.team: expected a string or a list of strings, got 3"),
        ("[protection]\ntags = \"costdeck:protect\"\n",
         'key protection.tags: expected a list of tag keys or key=value, got "costdeck:protect"'),
        ("[protection]\nids = []\n", "key protection.ids: unknown key (known: tags, resource_ids)"),
    ],
)
def test_config_errors_are_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(InputError) as ei:
        load_config(p)
    line = str(ei.value)
    assert "\n" not in line
    assert line.startswith(f"{p}: {message}"), line


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    p = write(tmp_path, '[sources.prod]\nkind = "aws"\nsecret_key = "AKIAVERYSECRET"\n')
    with pytest.raises(InputError) as ei:
        load_config(p)
    assert "AKIAVERYSECRET" not in str(ei.value)


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    p = write(tmp_path, "[sources.prod\nkind = 1\n")
    with pytest.raises(InputError, match=r"not valid TOML \(.*line 1"):
        load_config(p)


@pytest.mark.parametrize("command", [["sync"], ["sources"]])
def test_cli_config_error_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    p = write(tmp_path, '[sources.prod]\nkind = "aws"\nregions = 5\n')
    assert main([*command, "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert err == (f'costdeck: error: {p}: key sources.prod.regions: expected a list of region names or "all", '
                   "got 5\n")


def test_cli_sync_without_sources_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 2
    assert "no sources configured in" in capsys.readouterr().err


def test_hostile_values_are_shown_safely(tmp_path: Path) -> None:
    p = write(tmp_path, '[sources.prod]\nkind = "aws"\nregions = ["\\u001b[31mred"]\n')
    with pytest.raises(InputError) as ei:
        load_config(p)
    assert "\x1b" not in str(ei.value)


@pytest.mark.parametrize(("text", "message"), [
    ("[rules.cleanup]\nbatch_limit = 0\n", "key rules.cleanup.batch_limit: expected a whole number from 1 to 500, got 0"),
    ("[rules.cleanup]\ndry_run = false\n", "key rules.cleanup.dry_run: unknown key (known: batch_limit, "
     "confirm_threshold, snapshot_volumes)"),
    ("[rules.idle_instance]\nmax_cpu_avg = 101\n", "key rules.idle_instance.max_cpu_avg: expected a number from 0 "
     "to 100, got 101"),
    ('[budgets.x]\namount = 5\nfilter = { colour = "red" }\n', "key budgets.x.filter.colour: unknown dimension"),
])
@pytest.mark.parametrize("command", [["sources"], ["report", "rules"], ["sync"]])
def test_every_table_is_checked_in_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                                 message: str, command: list[str]) -> None:
    p = write(tmp_path, text)
    assert main([*command, "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"costdeck: error: {p}: {message}") and err.count("\n") == 1, err


@pytest.mark.parametrize(("text", "message"), [
    ('[budgets.b]\namount = "1e30"\n', 'key budgets.b.amount: expected a positive amount from 0.000000001 up to 9,000,000,000, got "1e30"'),
    ('[budgets.b]\namount = "0.0000000001"\n', "key budgets.b.amount: expected a positive amount"),
    ('[protection]\ntags = ["  "]\n', 'key protection.tags: expected no blank entries, got "  "'),
    ('[protection]\ntags = [" = prod"]\n', "key protection.tags: expected no blank entries"),
])
def test_budget_and_protection_edges(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as ei:
        load_config(write(tmp_path, text))
    assert str(ei.value).startswith(f"{tmp_path / 'config.toml'}: {message}"), str(ei.value)


def test_protection_tags_are_tidied(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, '[protection]\ntags = [" env = prod ", "keep "]\n'))
    assert c.protection.tags == ["env=prod", "keep"]


def test_script_needs_a_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.dataset import build

    db = build(tmp_path / "c.db")
    assert main(["report", "recommendations", "--script", "", "--db", str(db)]) == 2
    assert "--script needs a kind" in capsys.readouterr().err
