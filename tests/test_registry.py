"""The adapter registry: a third-party kind added by an entry point alone (no costdeck file changed)
is listed by `sources --kinds`, validated by its options model, synced, and shown by `sources`.

The throwaway package lives in tmp_path with its own dist-info (entry_points.txt in the
`costdeck.adapters` group) and reaches the CLI through PYTHONPATH, exactly as an installed plug-in
would: importlib.metadata finds it, the registry loads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cache import Store
from providers import registry
from providers.base import Adapter
from providers.config import parse_config
from providers.errors import InputError

REPO = Path(__file__).resolve().parent.parent

TOY = '''
"""A toy kind: one daily cost row per day of the window, `amount` each (test plug-in)."""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar

from msgspec import Meta

from cache import CostRow
from providers.base import Adapter, CostOptions, StepError, SyncContext


class ToyOptions(CostOptions):
    label: Annotated[str, Meta(min_length=1, description="the service name the rows carry")]
    amount_cents: Annotated[int, Meta(ge=1, le=100_000, description="cost per day, in cents")] = 125
    fail_usage: Annotated[bool, Meta(description="make the usage step fail")] = False


class ToyAdapter(Adapter[ToyOptions]):
    kind: ClassVar[str] = "toy"
    title: ClassVar[str] = "a toy cloud for tests"
    Options = ToyOptions
    steps: ClassVar[tuple[str, ...]] = ("costs", "usage")

    def sync(self, ctx: SyncContext) -> None:
        ctx.set_steps(list(self.steps))
        ctx.run_step("costs", self._costs)
        ctx.run_step("usage", self._usage)

    def _costs(self, ctx: SyncContext) -> int:
        start, end = ctx.cost_window
        rows = []
        day = start
        while day < end:
            rows.append(CostRow(day=day, provider_name="Toy Cloud", sub_account_id="toy-1",
                                service_name=self.options.label, billing_currency="USD",
                                billed_cost=self.options.amount_cents * 10_000_000,
                                effective_cost=self.options.amount_cents * 10_000_000))
            day += timedelta(days=1)
        return ctx.write_costs(rows)

    def _usage(self, ctx: SyncContext) -> int:
        if self.options.fail_usage:
            raise StepError("usage API said no")
        return 0
'''

BROKEN_TARGET = "costdeck_missing_module:Nothing"


def make_plugin(root: Path, *, broken: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "costdeck_toy.py").write_text(TOY, encoding="utf-8")
    dist = root / "costdeck_toy-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: costdeck-toy\nVersion: 0.1\n", encoding="utf-8")
    eps = "[costdeck.adapters]\ntoy = costdeck_toy:ToyAdapter\n"
    if broken:
        eps += f"ghost = {BROKEN_TARGET}\n"
    (dist / "entry_points.txt").write_text(eps, encoding="utf-8")
    return root


def run(args: list[str], plugin: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(REPO)]),
           "COSTDECK_DB": str(tmp_path / "cache.db"), "COSTDECK_CONFIG": str(tmp_path / "config.toml")}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def test_a_plugin_kind_is_listed_validated_synced_and_shown(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "plug")

    kinds = run(["sources", "--kinds"], plugin, tmp_path)
    assert kinds.returncode == 0, kinds.stderr
    out = kinds.stdout
    assert "toy" in out and "a toy cloud for tests" in out and "costs, usage" in out
    assert "amount_cents" in out and "int 1..100000" in out and "125" in out
    assert "label" in out and "required" in out and "the service name the rows carry" in out
    for builtin in ("aws", "gcp", "mlflow", "opencost", "focus", "runs", "track", "demo"):
        assert builtin in out
    as_json = json.loads(run(["sources", "--kinds", "--format", "json"], plugin, tmp_path).stdout)
    toy = next(k for k in as_json if k["kind"] == "toy")
    assert toy["steps"] == ["costs", "usage"] and toy["configurable"] is True
    opts = {o["name"]: o for o in toy["options"]}
    assert opts["amount_cents"] == {"name": "amount_cents", "type": "int 1..100000", "default": 125,
                                    "required": False, "description": "cost per day, in cents"}
    assert opts["label"]["required"] is True and opts["backfill_months"]["default"] == 13

    config = tmp_path / "config.toml"
    config.write_text('[sources.toyland]\nkind = "toy"\nlabel = "Widgets"\namount_cents = 0\n', encoding="utf-8")
    bad = run(["sources"], plugin, tmp_path)
    assert bad.returncode == 2
    assert bad.stderr == (f"costdeck: error: {config}: key sources.toyland.amount_cents: expected a whole number "
                          "from 1 to 100000, got 0\n")
    config.write_text('[sources.toyland]\nkind = "toy"\namount_cents = 5\n', encoding="utf-8")
    missing = run(["sync"], plugin, tmp_path)
    assert missing.returncode == 2 and "key sources.toyland.label: missing (the service name the rows carry)" \
        in missing.stderr
    assert not (tmp_path / "cache.db").exists()

    config.write_text('[sources.toyland]\nkind = "toy"\nlabel = "Widgets"\nbackfill_months = 1\n'
                      'fail_usage = true\n', encoding="utf-8")
    synced = run(["sync", "--plain"], plugin, tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    with Store(tmp_path / "cache.db", readonly=True) as store:
        [src] = store.list_sources()
        assert (src.name, src.kind, src.status) == ("toyland", "toy", "partial")
        days, total = store.conn.execute("SELECT count(*), sum(billed) FROM costs").fetchone()
    assert days >= 1 and total == days * 1_250_000_000

    listed = run(["sources"], plugin, tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if "toyland" in ln)
    assert "toy" in line and "partial" in line and str(days) in line and "usage API said no" in line

    spend = run(["report", "spend", "--by", "service_name", "--format", "json"], plugin, tmp_path)
    [row] = json.loads(spend.stdout)
    assert row["service_name"] == "Widgets" and row["cost"] == pytest.approx(days * 1.25)


def test_a_broken_plugin_fails_alone(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "plug", broken=True)
    kinds = run(["sources", "--kinds"], plugin, tmp_path)
    assert kinds.returncode == 0, kinds.stderr
    assert "ghost" in kinds.stdout and "cannot be loaded" in kinds.stdout and "toy" in kinds.stdout
    (tmp_path / "config.toml").write_text('[sources.g]\nkind = "ghost"\n', encoding="utf-8")
    bad = run(["sources"], plugin, tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "key sources.g.kind: the adapter for kind 'ghost' (costdeck_missing_module:Nothing) cannot be loaded" \
        in bad.stderr


def test_registry_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same discovery in this interpreter: the plug-in's kind, options and config validation."""
    plugin = make_plugin(tmp_path / "plug")
    monkeypatch.syspath_prepend(str(plugin))
    registry.refresh()
    try:
        assert "toy" in registry.kinds() and "toy" in registry.configurable()
        cls = registry.get("toy")
        assert issubclass(cls, Adapter) and cls.steps == ("costs", "usage")
        conf = parse_config({"sources": {"t": {"kind": "toy", "label": "X", "amount_cents": 7}}})
        assert conf.sources["t"].options.amount_cents == 7  # type: ignore[attr-defined]
        with pytest.raises(InputError, match=r'key sources.t.colour: unknown option for kind "toy" \(known: '):
            parse_config({"sources": {"t": {"kind": "toy", "label": "X", "colour": 1}}})
        # built-in kinds that are filled by a command are refused in the config, with the command
        with pytest.raises(InputError, match=r"key sources.t.kind: focus sources are filled by `costdeck import "
                           r"FILE.csv\|.csv.gz\|.parquet`, not synced \(kinds you can configure: aws, azure, gcp, mlflow, opencost, toy\)"):
            parse_config({"sources": {"t": {"kind": "focus"}}})
        with pytest.raises(InputError, match=r'key sources.t.kind: expected one of "aws", "azure", "gcp", "mlflow", "opencost", "toy", got "x"'):
            parse_config({"sources": {"t": {"kind": "x"}}})
        assert registry.not_synced("focus") == "focus sources are filled by `costdeck import FILE.csv|.csv.gz|.parquet`, " \
            "not synced"
        assert registry.cleanup_providers() == ["AWS", "Microsoft", "Google Cloud"] and registry.script_kinds() == ["aws", "azure", "gcp", "opencost"]
    finally:
        monkeypatch.undo()
        registry.refresh()
    assert "toy" not in registry.kinds()


def test_every_builtin_kind_is_an_entry_point_with_its_own_name() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split('[project.entry-points."costdeck.adapters"]', 1)[1].split("\n\n", 1)[0]
    declared = {ln.split("=")[0].strip() for ln in section.splitlines() if "=" in ln}
    assert declared == {"aws", "azure", "gcp", "mlflow", "opencost", "focus", "runs", "track", "demo"}
    for kind in declared:
        cls = registry.get(kind)
        assert cls.kind == kind and cls.title, kind


def test_a_plugin_cannot_replace_a_builtin_kind(tmp_path: Path) -> None:
    plugin = tmp_path / "plug"
    make_plugin(plugin)
    eps = plugin / "costdeck_toy-0.1.dist-info" / "entry_points.txt"
    eps.write_text("[costdeck.adapters]\naws = costdeck_toy:ToyAdapter\n", encoding="utf-8")
    out = run(["sources", "--kinds", "--format", "json"], plugin, tmp_path)
    assert out.returncode == 0, out.stderr
    aws = next(k for k in json.loads(out.stdout) if k["kind"] == "aws")
    assert aws["package"] == "costdeck" and aws["error"] is None and "Cost Explorer" in aws["title"]
    assert "kind 'aws' is registered twice: costdeck_toy:ToyAdapter (costdeck-toy) is ignored" in out.stderr


@pytest.mark.parametrize(("table", "message"), [
    ({"kind": "mlflow", "url": "http://alice:hunter2@127.0.0.1:9"}, "key sources.s.url: credentials are never kept"),
    ({"kind": "aws", "endpoint_url": "http://AKIA:secret@127.0.0.1:1"},
     "key sources.s.endpoint_url: credentials are never kept"),
    ({"kind": "mlflow", "url": "http://127.0.0.1:9", "token_env": "dapi0123456789abcdef"},
     "key sources.s.token_env: credentials are never kept"),
])
def test_credentials_in_urls_and_pasted_tokens_are_refused(table: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as ei:
        parse_config({"sources": {"s": table}})
    text = str(ei.value)
    assert message in text and "hunter2" not in text and "secret@" not in text and "dapi0123" not in text
