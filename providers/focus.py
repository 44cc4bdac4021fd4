"""FOCUS file import: CSV, CSV.gz or Parquet exports (FOCUS 1.0 to 1.3) into the cache.

How it works
------------
1. Every file is checked first (exists, not empty, sniffed by content: Parquet magic,
   gzip magic, UTF-8 text; anything else is "not a FOCUS export"; a `.parquet` name without
   the Parquet magic is "not a Parquet file"), hashed (sha256),
   and its header read to find the FOCUS columns and guess the FOCUS version.
2. DuckDB streams the file (out of core: memory_limit, temp_directory in a temp dir)
   and rolls it up to DAILY grain (day = UTC date of ChargePeriodStart) over the
   dimensions of `cache.CostRow`, summing the money columns as exact DECIMALs. In the
   same pass it counts bad rows: amounts or dates that do not parse (TRY_CAST), a null in a
   column FOCUS says must not be null (provider, BillingAccountId, BillingCurrency,
   ChargeCategory, ChargePeriodStart/End, BilledCost; see NOT_NULL) and a ChargePeriodEnd
   before its ChargePeriodStart, so a good file is read once. Only when that count is non-zero does a second, single-threaded
   pass number the rows to name the first bad one (file row / CSV line and column).
3. Tag JSON is validated and canonicalised in Python per distinct value, then joined
   back in DuckDB; the daily rows are re-aggregated on the canonical tag set and each
   daily amount is rounded ONCE, half-even, to integer nano-units (the rounding rule
   of `cache.money`, done exactly on DECIMALs by DuckDB's `round_even`).
4. Only when every file given has passed, everything is written in ONE SQLite
   transaction: per source the old rows are removed (`Store.replace_costs`), the new
   rows bulk-inserted with dimension ids resolved once per distinct value (inside
   `Store.bulk_costs`: a large import drops the secondary indexes and rebuilds them
   after the insert), the summary and weekly rollups aggregated by DuckDB and inserted,
   the import and a sync run recorded, the snapshot time touched. Any failure rolls the
   cache back to exactly what it was. Planner statistics are refreshed after the commit.

Errors are `InputError` (exit code 2) with one line naming the file, the row (CSV: the
line number in the file, header = line 1; Parquet: the 1-based row number), the column
and what was expected.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import json
import os
import queue
import re
import shutil
import sqlite3
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from cache import CacheError, Store, timeutil
from cache.money import cents
from cache.schema import COST_DIMS, SUMMARY_DIMS
from cache.store import PACK_BITS, PACK_GROUPS, PACK_MAX_ID, canonical_tags

from .errors import CostdeckError, InputError

Progress = Callable[[str, int, int | None], None]

SOURCE_KIND = "focus"
DEC = "DECIMAL(38,18)"  # exact for any amount up to 10^20 with 18 decimal places
MEMORY_LIMIT = os.environ.get("COSTDECK_DUCKDB_MEMORY", "512MB")
WRITE_BATCH = 25_000
# Amount sums of at most this many decimals are rounded with 64-bit arithmetic (`_nanos_sql`):
# up to 10^8 per daily row at 10 decimals, 10^6 at 12 (beyond: the general path, same result).
_FAST_MAX_SCALE = 12

# Columns without which a file cannot be imported (provider: one of the two names).
MANDATORY = (
    "BilledCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ServiceName",
    "ChargeCategory",
    "BillingAccountId",
)
PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName")
PARQUET_SUFFIXES = (".parquet", ".pq")

# Mandatory columns FOCUS says must not be null (AllowsNulls False in the 1.2 column table), checked
# on every row: (column, what is expected). The provider (either name), the charge period bounds
# and BilledCost are checked with their own rules in `checks`. ServiceName is also non-null in the
# spec but is not enforced: a missing service shows as "(none)" rather than refusing an export.
NOT_NULL = (
    ("BillingAccountId", "a billing account id"),
    ("BillingCurrency", "a currency code"),
    ("ChargeCategory", "one of Usage, Purchase, Tax, Credit, Adjustment"),
)

# Columns first defined by each FOCUS version (used to guess the version of a file).
_VERSION_MARKERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("1.3", frozenset({"serviceprovidername", "hostprovidername", "allocatedmethodid", "allocatedmethoddetails",
                       "allocatedresourceid", "allocatedresourcename", "allocatedtags", "contractapplied"})),
    ("1.2", frozenset({"billingaccounttype", "subaccounttype", "invoiceid", "pricingcurrency",
                       "pricingcurrencycontractedunitprice", "pricingcurrencyeffectivecost",
                       "pricingcurrencylistunitprice"})),
    ("1.1", frozenset({"capacityreservationid", "capacityreservationstatus", "commitmentdiscountquantity",
                       "commitmentdiscountunit", "servicesubcategory", "skumeter", "skupricedetails"})),
    ("1.0", frozenset({"chargeclass", "consumedquantity", "consumedunit", "contractedcost",
                       "contractedunitprice", "commitmentdiscountstatus", "regionid", "regionname"})),
)

# Allowed values whose capitalisation varies between exporters ("Usage-based").
_CANONICAL_VALUES = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other", "On-Demand"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
}

# Output string dimensions of the daily rows: (name in the DuckDB table, FOCUS column).
_STRING_DIMS: tuple[tuple[str, str], ...] = (
    ("billing_account_id", "BillingAccountId"),
    ("billing_account_name", "BillingAccountName"),
    ("sub_account_id", "SubAccountId"),
    ("sub_account_name", "SubAccountName"),
    ("service_name", "ServiceName"),
    ("service_category", "ServiceCategory"),
    ("region_id", "RegionId"),
    ("region_name", "RegionName"),
    ("resource_id", "ResourceId"),
    ("resource_name", "ResourceName"),
    ("resource_type", "ResourceType"),
    ("charge_category", "ChargeCategory"),
    ("pricing_category", "PricingCategory"),
    ("commitment_discount_id", "CommitmentDiscountId"),
    ("commitment_discount_name", "CommitmentDiscountName"),
    ("commitment_discount_type", "CommitmentDiscountType"),
    ("commitment_discount_status", "CommitmentDiscountStatus"),
    ("billing_currency", "BillingCurrency"),
)
_MONEY: tuple[tuple[str, str], ...] = (
    ("billed", "BilledCost"),
    ("effective", "EffectiveCost"),
    ("list", "ListCost"),
    ("contracted", "ContractedCost"),
)
_QUANTITIES: tuple[tuple[str, str], ...] = (
    ("pricing_quantity", "PricingQuantity"),
    ("consumed_quantity", "ConsumedQuantity"),
)
_DIM_NAMES = ("provider_name", *(name for name, _ in _STRING_DIMS))

# cache dims kind -> (value column, label column, extra column) of the daily table.
_DIM_KINDS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("provider", "provider_name", None, None),
    ("billing_account", "billing_account_id", "billing_account_name", None),
    ("sub_account", "sub_account_id", "sub_account_name", None),
    ("service", "service_name", None, "service_category"),
    ("service_category", "service_category", None, None),
    ("region", "region_id", "region_name", None),
    ("resource", "resource_id", "resource_name", "resource_type"),
    ("resource_type", "resource_type", None, None),
    ("charge_category", "charge_category", None, None),
    ("pricing_category", "pricing_category", None, None),
    ("commitment", "commitment_discount_id", "commitment_discount_name", "commitment_discount_type"),
    ("commitment_status", "commitment_discount_status", None, None),
    ("currency", "billing_currency", None, None),
)

_DATE_EXPECTED = "a date/time such as 2024-09-01T00:00:00Z"
_NUM_EXPECTED = "a decimal number"


@dataclass(slots=True)
class ImportResult:
    """What one file's import did (or would have done, when skipped)."""

    path: Path
    source_name: str
    focus_version: str = "unknown"
    file_format: str = ""
    sha256: str = ""
    input_rows: int = 0
    daily_rows: int = 0
    first_day: date | None = None
    last_day: date | None = None
    billed_totals: dict[str, int] = field(default_factory=dict)  # currency -> nanos
    effective_totals: dict[str, int] = field(default_factory=dict)
    list_totals: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    @property
    def totals(self) -> dict[str, int]:
        return self.billed_totals

    def summary(self) -> str:
        name = self.path.name
        if self.skipped:
            return f"{name}: already imported as {self.source_name}; skipped"
        rng = f"{self.first_day}..{self.last_day}" if self.first_day else "no days"
        billed = " + ".join(f"{cents(v)} {cur}" for cur, v in sorted(self.billed_totals.items())) or "0.00"
        return (
            f"{name}: {self.input_rows:,} rows in, {self.daily_rows:,} daily rows, {rng}, billed {billed} "
            f"(source {self.source_name}, FOCUS {self.focus_version}, {self.file_format})"
        )


# -- small SQL helpers ------------------------------------------------------------
def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _short(value: object, limit: int = 60) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


# -- file sniffing ------------------------------------------------------------------
_BINARY_KINDS = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"BZh", "bzip2-compressed data"),
)


@dataclass(slots=True)
class _File:
    path: Path
    display: str
    fmt: str  # "csv", "csv.gz" or "parquet"
    sha256: str
    size: int
    columns: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    delim: str = ","
    version: str = "unknown"
    source: str = ""
    table: str = ""
    rows_table: str = ""  # the daily rows with dimension ids, as written to the cache
    result: ImportResult | None = None


def _sniff(path: Path) -> _File:
    display = str(path)
    if not path.exists():
        raise InputError(f"{display}: no such file")
    if path.is_dir():
        raise InputError(f"{display}: is a directory, not a FOCUS file")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8192)
            if size >= 8:
                fh.seek(-4, os.SEEK_END)
                tail = fh.read(4)
            else:
                tail = b""
    except OSError as exc:
        raise InputError(f"{display}: cannot read ({exc.strerror})") from None
    if size == 0:
        raise InputError(f"{display}: empty file (expected a FOCUS export with a header row)")
    if head.startswith(b"PAR1"):
        if tail != b"PAR1":
            raise InputError(f"{display}: truncated Parquet file (the footer is missing)")
        fmt = "parquet"
    elif path.suffix.lower() in PARQUET_SUFFIXES:
        # Named as Parquet but it is not: say so rather than reading it as CSV ("missing columns").
        raise InputError(
            f"{display}: not a Parquet file (no PAR1 signature); a FOCUS export must be Parquet, CSV or CSV.gz"
        )
    elif head.startswith(b"\x1f\x8b"):
        fmt = "csv.gz"
    else:
        for magic, what in _BINARY_KINDS:
            if head.startswith(magic):
                raise InputError(f"{display}: not a FOCUS export: the file is {what}")
        text = head.lstrip(b"\xef\xbb\xbf")
        if b"\x00" in text or not _utf8_prefix(text):
            raise InputError(f"{display}: not a FOCUS export: binary content, expected CSV, CSV.gz or Parquet")
        fmt = "csv"
    return _File(path=path, display=display, fmt=fmt, sha256=_sha256(path), size=size)


def _utf8_prefix(data: bytes) -> bool:
    for cut in range(4):  # a multi-byte character may be cut at the end of the sample
        try:
            data[: len(data) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def _open_text(f: _File) -> Iterator[Any]:
    if f.fmt == "csv.gz":
        fh = gzip.open(f.path, "rt", encoding="utf-8-sig", newline="")
    else:
        fh = f.path.open("r", encoding="utf-8-sig", newline="")
    try:
        yield fh
    finally:
        fh.close()


def _read_csv_header(f: _File) -> None:
    try:
        with _open_text(f) as fh:
            first = fh.readline()
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(f"{f.display}: truncated or corrupt gzip data ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{f.display}: not a FOCUS export: the header is not UTF-8 text") from None
    if not first.strip():
        raise InputError(f"{f.display}: empty file (expected a FOCUS export with a header row)")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    f.delim = max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","
    try:
        header = next(csv.reader([first], delimiter=f.delim, strict=True))
    except (csv.Error, StopIteration):
        raise InputError(f"{f.display}: row 1: not a CSV header line") from None
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        name = raw.strip() or f"column{i + 1}"
        base, n = name, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        names.append(name)
    f.columns = names
    f.types = dict.fromkeys(names, "VARCHAR")


def _detect_version(columns: list[str]) -> str:
    lower = {c.lower() for c in columns}
    for version, markers in _VERSION_MARKERS:
        if lower & markers:
            return version
    return "unknown"


# -- the importer -----------------------------------------------------------------
class _Importer:
    def __init__(self, store: Store, progress: Progress | None) -> None:
        self.store = store
        self.progress = progress
        self.tmp = tempfile.mkdtemp(prefix="costdeck-import-")
        threads = max(1, min(4, os.cpu_count() or 1))
        self.threads = threads
        self.con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": MEMORY_LIMIT,
                "threads": threads,
                "temp_directory": os.path.join(self.tmp, "spill"),
                "preserve_insertion_order": False,
            },
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        self._n = 0

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _tick(self, label: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(label, done, total)

    # -- reading ----------------------------------------------------------------------
    def relation(self, f: _File, *, numbered: bool = False) -> str:
        p = _ql(str(f.path))
        if f.fmt == "parquet":
            extra = ", file_row_number = true" if numbered else ""
            src = f"read_parquet({p}{extra})"
            if numbered:
                return f"(SELECT file_row_number + 1 AS __rn, * FROM {src})"
            return src
        cols = "{" + ", ".join(f"{_ql(c)}: 'VARCHAR'" for c in f.columns) + "}"
        comp = "gzip" if f.fmt == "csv.gz" else "none"
        src = (
            f"read_csv({p}, columns = {cols}, auto_detect = false, header = true, delim = {_ql(f.delim)}, "
            f"quote = '\"', escape = '\"', nullstr = ['NULL', ''], strict_mode = true, "
            f"compression = '{comp}', max_line_size = 16777216)"
        )
        if numbered:
            return f"(SELECT row_number() OVER () AS __rn, * FROM {src})"
        return src

    def describe(self, f: _File) -> None:
        if f.fmt == "parquet":
            try:
                rows = self.con.execute(f"DESCRIBE SELECT * FROM {self.relation(f)}").fetchall()
            except duckdb.Error as exc:
                raise InputError(f"{f.display}: not a readable Parquet file ({_first_line(exc)})") from None
            f.columns = [r[0] for r in rows]
            f.types = {r[0]: str(r[1]) for r in rows}
        else:
            _read_csv_header(f)
        f.version = _detect_version(f.columns)

    def col(self, f: _File, name: str) -> str | None:
        lower = {c.lower(): c for c in f.columns}
        return lower.get(name.lower())

    def check_columns(self, f: _File) -> None:
        missing = [c for c in MANDATORY if self.col(f, c) is None]
        if not any(self.col(f, c) for c in PROVIDER_COLUMNS):
            missing.insert(0, "ProviderName")
        if not missing:
            return
        known = sum(1 for c in (*MANDATORY, *PROVIDER_COLUMNS) if self.col(f, c))
        if known < 3:
            raise InputError(f"{f.display}: not a FOCUS export: missing columns {', '.join(missing)}")
        if len(missing) == 1:
            raise InputError(f"{f.display}: column {missing[0]}: missing (a mandatory FOCUS column)")
        raise InputError(f"{f.display}: missing mandatory FOCUS columns {', '.join(missing)}")

    # Expressions over one input row (pass 1 keeps them minimal: casts only where needed).
    def ctype(self, f: _File, name: str) -> str:
        c = self.col(f, name)
        return f.types.get(c, "VARCHAR").upper() if c else "VARCHAR"

    def raw(self, f: _File, name: str) -> str | None:
        """The column as read (nulls applied), or None when the file lacks it."""
        c = self.col(f, name)
        if c is None:
            return None
        if self.ctype(f, name) == "VARCHAR":
            # Also keeps DuckDB from pushing a TRY_CAST into the CSV reader, where it would
            # become a hard conversion error instead of a NULL we can report with its row.
            return f"nullif(nullif({_qi(c)}, ''), 'NULL')"
        return _qi(c)

    def key(self, f: _File, name: str) -> str:
        """A string dimension as a pass-1 group key: the column itself (nulls are cleaned in pass 2)."""
        c = self.col(f, name)
        if c is None:
            return "CAST(NULL AS VARCHAR)"
        if self.ctype(f, name) != "VARCHAR":
            return f"CAST({_qi(c)} AS VARCHAR)"
        return _qi(c)

    def provider_key(self, f: _File) -> str:
        cols = [c for c in PROVIDER_COLUMNS if self.col(f, c)]
        if len(cols) == 1:
            return self.key(f, cols[0])
        return f"coalesce(nullif(nullif({self.key(f, cols[0])}, ''), 'NULL'), {self.key(f, cols[1])})"

    def tags_key(self, f: _File) -> str:
        c = self.col(f, "Tags")
        if c is None:
            return "CAST(NULL AS VARCHAR)"
        t = self.ctype(f, "Tags")
        if t.startswith("MAP") or t.startswith("STRUCT"):
            return f"CAST(to_json({_qi(c)}) AS VARCHAR)"
        return self.key(f, "Tags")

    def tags_value(self, f: _File) -> str:
        t = self.tags_key(f)
        return f"nullif(nullif({t}, ''), 'NULL')"

    def amount(self, f: _File, name: str) -> str:
        r = self.raw(f, name)
        if r is None:
            return f"CAST(NULL AS {DEC})"
        if _exact_numeric(self.ctype(f, name)):
            return r  # summed exactly in its own type
        return f"TRY_CAST({r} AS {DEC})"

    def instant(self, f: _File, name: str) -> str:
        """The column as TIMESTAMPTZ (NULL when absent, null or unparsable)."""
        r = self.raw(f, name)
        if r is None:
            return "CAST(NULL AS TIMESTAMPTZ)"
        if _temporal(self.ctype(f, name)):
            return f"CAST({r} AS TIMESTAMPTZ)"  # a naive TIMESTAMP is UTC (session zone)
        return f"TRY_CAST({r} AS TIMESTAMPTZ)"

    def checks(self, f: _File) -> list[tuple[str, str, str, str]]:
        """(FOCUS column, bad-row condition, raw value expression, expected) per checked column.

        A value expression may give a list [value, other]: the message then shows both."""
        out: list[tuple[str, str, str, str]] = []
        for name in ("ChargePeriodStart", "ChargePeriodEnd"):
            r = self.raw(f, name)
            if r is None:
                continue
            if _temporal(self.ctype(f, name)):
                out.append((name, f"{r} IS NULL", f"CAST({r} AS VARCHAR)", _DATE_EXPECTED))
                continue
            out.append((name, f"TRY_CAST({r} AS TIMESTAMPTZ) IS NULL", f"CAST({r} AS VARCHAR)", _DATE_EXPECTED))
        start, end = self.raw(f, "ChargePeriodStart"), self.raw(f, "ChargePeriodEnd")
        if start is not None and end is not None:
            # the period must not run backwards (rows whose bounds do not parse are reported above)
            out.append((
                "ChargePeriodEnd",
                f"coalesce({self.instant(f, 'ChargePeriodEnd')} < {self.instant(f, 'ChargePeriodStart')}, false)",
                f"[CAST({end} AS VARCHAR), CAST({start} AS VARCHAR)]",
                "a date/time not before ChargePeriodStart",
            ))
        cols = [c for c in PROVIDER_COLUMNS if self.col(f, c)]
        if cols:
            provider = " AND ".join(f"{self.raw(f, c)} IS NULL" for c in cols)
            shown = self.col(f, cols[0]) or cols[0]
            out.append((shown, provider, f"CAST({self.raw(f, cols[0])} AS VARCHAR)", "a provider name"))
        for name, expected in NOT_NULL:
            r = self.raw(f, name)
            if r is not None:
                out.append((name, f"{r} IS NULL", f"CAST({r} AS VARCHAR)", expected))
        for name, required in (
            ("BilledCost", True),
            ("EffectiveCost", False),
            ("ListCost", False),
            ("ContractedCost", False),
            ("PricingQuantity", False),
            ("ConsumedQuantity", False),
        ):
            r = self.raw(f, name)
            if r is None:
                continue
            if _exact_numeric(self.ctype(f, name)):
                if required:
                    out.append((name, f"{r} IS NULL", f"CAST({r} AS VARCHAR)", _NUM_EXPECTED))
                continue
            cond = f"TRY_CAST({r} AS {DEC}) IS NULL"
            if not required:
                cond = f"({r} IS NOT NULL AND {cond})"
            out.append((name, cond, f"CAST({r} AS VARCHAR)", _NUM_EXPECTED))
        order = {c.lower(): i for i, c in enumerate(f.columns)}
        out.sort(key=lambda x: order.get(x[0].lower(), 10**6))  # stable: a bad end date before a backwards one
        return out

    def aggregate(self, f: _File) -> None:
        """Pass 1 (the only full read of a good file): daily grain on raw values, counting bad rows."""
        start = self.raw(f, "ChargePeriodStart")
        if _temporal(self.ctype(f, "ChargePeriodStart")):
            day = f"CAST({start} AS DATE)"  # TIMESTAMP (naive = UTC) or TIMESTAMPTZ, session zone UTC
        else:
            day = f"CAST(TRY_CAST({start} AS TIMESTAMPTZ) AS DATE)"
        sel = [
            f"{day} AS day",
            f"{self.provider_key(f)} AS provider_name",
            *(f"{self.key(f, col)} AS {name}" for name, col in _STRING_DIMS),
            f"{self.tags_key(f)} AS tags_raw",
        ]
        sums = []
        for name, col in (*_MONEY, *_QUANTITIES):
            sel.append(f"{self.amount(f, col)} AS {name}")
            sums.append(f"sum({name}) AS {name}")
        bad = " OR ".join(c[1] for c in self.checks(f)) or "false"
        sel.append(f"({bad}) AS __bad")
        f.table = f"agg{self._n}"
        self._n += 1
        keys = ", ".join([*_DIM_NAMES, "day", "tags_raw"])
        sql = (
            f"CREATE TEMP TABLE {f.table} AS SELECT {keys}, {', '.join(sums)}, count(*) AS n, "
            f"count_if(__bad) AS nbad FROM (SELECT {', '.join(sel)} FROM {self.relation(f)}) "
            f"GROUP BY {keys}"
        )
        try:
            self.con.execute(sql)
        except duckdb.Error as exc:
            self.read_failure(f, exc)
        n, nbad = self.con.execute(f"SELECT coalesce(sum(n), 0), coalesce(sum(nbad), 0) FROM {f.table}").fetchone()
        if nbad:
            self.locate_bad_row(f)
        if n == 0:
            raise InputError(f"{f.display}: no data rows (only a header)")

    def read_failure(self, f: _File, exc: duckdb.Error) -> None:
        """DuckDB could not read the file: find the first structural problem for a one-line message."""
        if f.fmt == "parquet":
            raise InputError(f"{f.display}: not a readable Parquet file ({_first_line(exc)})") from None
        _scan_csv_structure(f)
        msg = _first_line(exc)
        m = re.search(r"Line: (\d+)", str(exc))
        where = f"row {m.group(1)}: " if m else ""
        raise InputError(f"{f.display}: {where}malformed CSV ({msg})") from None

    def locate_bad_row(self, f: _File, tags_bad: list[str] | None = None) -> None:
        """Pass 2 (error path only): the first bad row, numbered in file order on one thread."""
        checks = [] if tags_bad else self.checks(f)
        if tags_bad:
            lst = ", ".join(_ql(t) for t in tags_bad[:200])
            tv = self.tags_value(f)
            checks = [("Tags", f"({tv}) IN ({lst})", tv, "a JSON object of tags")]
        self.con.execute("SET threads = 1")
        self.con.execute("SET preserve_insertion_order = true")
        try:
            cols = ", ".join(f"({c[1]}) AS b{i}, {c[2]} AS v{i}" for i, c in enumerate(checks))
            where = " OR ".join(f"({c[1]})" for c in checks)
            row = self.con.execute(
                f"SELECT __rn, {cols} FROM {self.relation(f, numbered=True)} WHERE {where} ORDER BY __rn LIMIT 1"
            ).fetchone()
        except duckdb.Error as exc:
            self.read_failure(f, exc)
            raise
        finally:
            self.con.execute(f"SET threads = {self.threads}")
            self.con.execute("SET preserve_insertion_order = false")
        if row is None:  # pragma: no cover - pass 1 counted a bad row
            raise InputError(f"{f.display}: invalid values (row not found)")
        rn = int(row[0])
        for i, (col, _cond, _v, expected) in enumerate(checks):
            if row[1 + 2 * i]:
                value = row[2 + 2 * i]
                if isinstance(value, list):  # [value, the ChargePeriodStart it is compared with]
                    got = f"{_short(value[0])} (ChargePeriodStart {_short(value[1])})"
                else:
                    got = "an empty value" if value is None else _short(value)
                line = _csv_line_of_record(f, rn) if f.fmt != "parquet" else rn
                raise InputError(f"{f.display}: row {line}, column {col}: expected {expected}, got {got}")
        raise InputError(f"{f.display}: row {rn}: invalid values")  # pragma: no cover

    def finish(self, f: _File) -> None:
        """Pass 2 over the (small) daily table: nulls and spelling cleaned, canonical tags,
        re-aggregated, each daily amount rounded once (half-even) to nano-units."""
        raws = [r[0] for r in self.con.execute(
            f"SELECT DISTINCT tags_raw FROM {f.table} WHERE tags_raw IS NOT NULL AND tags_raw NOT IN ('', 'NULL')"
        ).fetchall()]
        mapping: list[tuple[str, str | None]] = []
        bad: list[str] = []
        for raw in raws:
            try:
                mapping.append((raw, canonical_tags(raw)))
            except CacheError:
                bad.append(raw)
        if bad:
            self.locate_bad_row(f, tags_bad=bad)
        join = ""
        tags_col = "CAST(NULL AS VARCHAR)"
        if mapping:
            tm = f"{f.table}_tags"
            self.load_table(tm, {"raw": "VARCHAR", "canon": "VARCHAR"},
                            ({"raw": raw, "canon": canon} for raw, canon in mapping))
            join = f"LEFT JOIN {tm} m ON m.raw = a.tags_raw"
            tags_col = "m.canon"
        clean = []
        for name in _DIM_NAMES:
            e = f"nullif(nullif(a.{name}, ''), 'NULL')"
            col = dict(_STRING_DIMS).get(name)
            allowed = _CANONICAL_VALUES.get(col or "")
            if allowed:
                cases = " ".join(f"WHEN {_ql(v.lower())} THEN {_ql(v)}" for v in allowed)
                e = f"CASE lower({e}) {cases} ELSE {e} END"
            clean.append(f"{e} AS {name}")
        keys = ", ".join((*_DIM_NAMES, "day", "tags"))
        # The cleanup merges keys only if it changes a value (null spellings, capitalisation,
        # '' or 'NULL' tags) or maps two tag spellings to one canonical set. Otherwise every
        # pass-1 row is its own daily row: round each one, no second GROUP BY.
        canons = [canon for _raw, canon in mapping]
        merges = None in canons or len(set(canons)) != len(canons)
        if not merges:
            changed = " OR ".join(
                [f"a.{name} IS DISTINCT FROM {c.rsplit(' AS ', 1)[0]}" for name, c in zip(_DIM_NAMES, clean, strict=True)]
                + ["a.tags_raw IN ('', 'NULL')"]
            )
            merges = bool(self.con.execute(f"SELECT count_if({changed}) FROM {f.table} a").fetchone()[0])
        types = {str(r[0]): str(r[1]) for r in self.con.execute(f"DESCRIBE {f.table}").fetchall()}
        scales = {m: _decimal_scale(types.get(m, "")) for m, _ in _MONEY}
        daily = f"{f.table}_daily"
        # Fast path (exact numeric amounts of at most _FAST_MAX_SCALE decimals, e.g. Parquet
        # DECIMALs): the sums in their own exact type, rounded with 64-bit arithmetic
        # (`_nanos_sql`); it raises (overflow) rather than round wrongly, and then the
        # general path sums at DECIMAL(38,18) and rounds with round_even.
        fast = all(sc is not None and sc <= _FAST_MAX_SCALE for sc in scales.values())
        for attempt in ((True, False) if fast else (False,)):
            inner = (
                # without merges the cleanup changes no value (checked above): the values as read
                f"SELECT {', '.join(clean if merges else (f'a.{n}' for n in _DIM_NAMES))}, a.day, {tags_col} AS tags, "
                + ", ".join(f"a.{m} AS {m}" if attempt else f"CAST(a.{m} AS {DEC}) AS {m}" for m, _ in _MONEY)
                + ", " + ", ".join(f"CAST(a.{q} AS {DEC}) AS {q}" for q, _ in _QUANTITIES)
                + f", a.n FROM {f.table} a {join}"
            )
            if merges:
                agg = "sum({})"
                tail = f", sum(n) AS n FROM ({inner}) GROUP BY {keys}"
            else:
                agg = "{}"
                tail = f", n FROM ({inner})"
            if attempt:
                money = ", ".join(
                    f"{_nanos_sql(f'coalesce({agg.format(m)}, 0)', scales[m] or 0)} AS {m}" for m, _ in _MONEY
                )
            else:
                money = ", ".join(
                    f"CAST(round_even(coalesce({agg.format(m)}, 0), 9) * 1000000000 AS BIGINT) AS {m}"
                    for m, _ in _MONEY
                )
            qty = ", ".join(f"CAST({agg.format(q)} AS DOUBLE) AS {q}" for q, _ in _QUANTITIES)
            # Without merges the daily rows are the pass-1 rows with rounded amounts and canonical
            # tags: a view (nothing copied; each later query computes only the columns it reads).
            kind = "TABLE" if merges else "VIEW"
            try:
                self.con.execute(f"CREATE OR REPLACE TEMP {kind} {daily} AS SELECT {keys}, {money}, {qty}{tail}")
                # every amount of every row, so a failing rounding surfaces here
                totals = self.con.execute(
                    f"SELECT billing_currency, sum(billed), sum(effective), sum(list), sum(contracted) "
                    f"FROM {daily} GROUP BY 1 ORDER BY 1"
                ).fetchall()
                break
            except duckdb.Error as exc:
                if not attempt:
                    raise InputError(f"{f.display}: cannot total the amounts ({_first_line(exc)})") from None
        if merges:
            self.con.execute(f"DROP TABLE {f.table}")
        f.table = daily
        res = f.result
        assert res is not None
        n, rows, lo, hi = self.con.execute(f"SELECT sum(n), count(*), min(day), max(day) FROM {daily}").fetchone()
        res.input_rows, res.daily_rows, res.first_day, res.last_day = int(n), int(rows), lo, hi
        for cur, b, e, li, _c in totals:
            res.billed_totals[cur] = int(b)
            res.effective_totals[cur] = int(e)
            res.list_totals[cur] = int(li)

    def load_table(self, name: str, columns: dict[str, str], records: Any) -> None:
        """A small Python-made table into DuckDB, through a JSON-lines file (no pandas/arrow needed)."""
        path = os.path.join(self.tmp, f"{name}.jsonl")
        with open(path, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        spec = "{" + ", ".join(f"{_ql(k)}: {_ql(v)}" for k, v in columns.items()) + "}"
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_json({_ql(path)}, columns = {spec}, "
            "format = 'newline_delimited')"
        )

    # -- writing --------------------------------------------------------------------------
    def write(self, f: _File, source_id: int, writer: _Writer) -> int:
        """Resolve each distinct dimension value once, join the ids in DuckDB, hand the rows in
        batches to `writer` (which inserts them into SQLite on its own thread)."""
        store = self.store
        t = f.table
        ids: dict[tuple[str, str], int | None] = {}
        # The distinct values of every kind in one query (one pass per kind, in kind order, each
        # kind's values sorted): one id per value; a value seen with several labels keeps the last.
        distinct = " UNION ALL ".join(
            f"SELECT DISTINCT {k} AS k, {value} AS v, {label or 'NULL'} AS lb, {extra or 'NULL'} AS ex "
            f"FROM {t} WHERE {value} IS NOT NULL"
            for k, (_kind, value, label, extra) in enumerate(_DIM_KINDS)
        )
        for k, v, lb, ex in self.con.execute(f"SELECT * FROM ({distinct}) ORDER BY ALL").fetchall():
            ids[(_DIM_KINDS[k][0], v)] = store.dim_id(_DIM_KINDS[k][0], v, lb, ex)
        for (canon,) in self.con.execute(f"SELECT DISTINCT tags FROM {t} WHERE tags IS NOT NULL ORDER BY 1").fetchall():
            ids[("tagset", canon)] = store.tagset_id(canon)
        idt = f"{t}_ids"
        self.load_table(idt, {"kind": "VARCHAR", "value": "VARCHAR", "id": "BIGINT"},
                        ({"kind": k, "value": v, "id": i} for (k, v), i in ids.items()))
        joins = []
        cols = []
        for i, (kind, value, _l, _e) in enumerate((*_DIM_KINDS, ("tagset", "tags", None, None))):
            joins.append(f"LEFT JOIN {idt} j{i} ON j{i}.kind = {_ql(kind)} AND j{i}.value = d.{value}")
            cols.append(f"j{i}.id AS {COST_DIMS[i]}")
        res = f.result
        total = res.daily_rows if res else None
        rows = f"{t}_rows"
        self.con.execute(
            f"CREATE TEMP TABLE {rows} AS SELECT CAST({source_id} AS BIGINT) AS source_id, "
            f"strftime(d.day, '%Y-%m-%d') AS day, {', '.join(cols)}, d.billed, d.effective, d.list, d.contracted, "
            f"d.pricing_quantity, d.consumed_quantity FROM {t} d {' '.join(joins)}"
        )
        f.rows_table = rows
        insert = store.insert_cost_tuples
        select = "*"
        if max((i for i in ids.values() if i is not None), default=0) <= PACK_MAX_ID:
            # The 14 dimension ids as 5 packed integers: a third fewer Python values per row
            # to make here and bind there (the GIL-bound part of the hand-over).
            packs = [
                " | ".join(f"(coalesce({d}, 0) << {PACK_BITS * (len(group) - 1 - j)})" for j, d in enumerate(group))
                for group in PACK_GROUPS
            ]
            select = (f"source_id, day, {', '.join(packs)}, billed, effective, list, contracted, "
                      "pricing_quantity, consumed_quantity")
            insert = store.insert_packed_cost_tuples
        cur = self.con.execute(f"SELECT {select} FROM {rows} ORDER BY day, resource")
        done = 0
        label = f"writing {f.path.name}"
        self._tick(label, 0, total)
        while True:
            batch = cur.fetchmany(WRITE_BATCH)  # DuckDB -> tuples here while the writer inserts
            if not batch:
                break
            writer.put(insert, batch)
            done += len(batch)
            self._tick(label, done, total)
        return done

    def write_rollups(self, files: list[_File], writer: _Writer) -> None:
        """The summary and weekly rows of one source's files, aggregated by DuckDB from the rows
        just written (what `Store.rebuild_summary` would compute, without SQLite's GROUP BY),
        while the writer is still inserting the costs rows."""
        # One DuckDB thread: the other core stays with the SQLite writer (this is off its path).
        self.con.execute("SET threads = 1")
        src = " UNION ALL ".join(f"SELECT * FROM {f.rows_table}" for f in files)
        money = "sum(billed), sum(effective), sum(list), sum(contracted), count(*)"
        sdims = ", ".join(SUMMARY_DIMS)
        cdims = ", ".join(COST_DIMS)
        summary = self.con.execute(
            f"SELECT source_id, day, {sdims}, {money} FROM ({src}) GROUP BY source_id, day, {sdims}"
        ).fetchall()
        weekly = self.con.execute(
            f"SELECT source_id, strftime(date_trunc('week', CAST(day AS DATE)), '%Y-%m-%d') AS week, {cdims}, "
            f"{money} FROM ({src}) GROUP BY source_id, week, {cdims}"
        ).fetchall()
        self.con.execute(f"SET threads = {self.threads}")
        writer.put(self.store.insert_rollup_tuples, summary, weekly)


class _Writer:
    """Runs the SQLite writes of an import on one thread while the caller goes on producing
    rows with DuckDB (sqlite3 releases the GIL inside sqlite3_step, DuckDB while it executes:
    the two stages overlap on two cores). Writes run in order; the first failure stops the
    writes and is raised in the caller (by `put` or on leaving the block). Leaving the block
    always waits for the thread, so the caller's transaction is never used by two threads."""

    def __init__(self) -> None:
        self._q: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(maxsize=2)
        self._exc: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="costdeck-import-writer", daemon=True)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._q.put(None)
        self._thread.join()
        if exc is None and self._exc is not None:
            raise self._exc

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._exc is None:
                fn, args = item
                try:
                    fn(*args)
                except BaseException as exc:  # raised in the caller's thread
                    self._exc = exc

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._exc is not None:
            raise self._exc
        self._q.put((fn, args))


def _decimal_scale(t: str) -> int | None:
    """The scale of an exact numeric DuckDB type (0 for integers), None for anything else."""
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return int(m.group(2))
    return 0 if _exact_numeric(t) else None


def _nanos_sql(x: str, scale: int) -> str:
    """SQL for the exact amount `x` (an exact numeric of `scale` decimals, 0 <= scale <= 18) in
    integer nano-units, rounded half-even like `cache.money.to_nanos`, with 64-bit DECIMAL
    arithmetic only (DuckDB's DECIMAL(38) multiplications and round_even are several times
    slower): x as DECIMAL(18, scale), rounded half-even to 9 decimals (d, |d| < 10^9), then
    whole part * 10^9 + the 9 decimals as an integer. Every step is exact; a value out of range
    (|x| >= 10^(18 - max(scale, 9))) raises in DuckDB (conversion/overflow), never rounds wrongly."""
    d = f"CAST({x} AS DECIMAL(18,{scale}))"
    if scale > 9:
        d = f"round_even({d}, 9)"
    d = f"CAST({d} AS DECIMAL(18,9))"
    frac = f"CAST(CAST({d} - trunc({d}) AS DECIMAL(9,9)) * CAST(100000000 AS DECIMAL(9,0)) * CAST(10 AS DECIMAL(2,0)) AS BIGINT)"
    return f"(CAST(trunc({d}) AS BIGINT) * 1000000000 + {frac})"


def _exact_numeric(t: str) -> bool:
    return t.startswith("DECIMAL") or t in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    }


def _temporal(t: str) -> bool:
    return t.startswith("TIMESTAMP") or t == "DATE"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:200]


def _scan_csv_structure(f: _File) -> None:
    """Error path: read the CSV with Python to name the first structurally bad line."""
    ncols = len(f.columns)
    line = 1
    try:
        with _open_text(f) as fh:
            reader = csv.reader(fh, delimiter=f.delim, strict=True)
            next(reader, None)
            line = reader.line_num + 1
            for rec in reader:
                if rec and len(rec) != ncols:
                    hint = " (truncated row?)" if len(rec) < ncols else ""
                    raise InputError(
                        f"{f.display}: row {line}: expected {ncols} columns, found {len(rec)}{hint}"
                    )
                line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{f.display}: row {line}: malformed CSV ({exc}; truncated file?)") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"{f.display}: truncated or corrupt gzip data after row {line - 1} ({_first_line(exc)})"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{f.display}: row {line}: not UTF-8 text") from None


def _csv_line_of_record(f: _File, record: int) -> int:
    """The file line where data record `record` (1-based) starts (quoted fields may span lines)."""
    try:
        with _open_text(f) as fh:
            reader = csv.reader(fh, delimiter=f.delim)
            next(reader, None)
            start = reader.line_num + 1
            n = 0
            for rec in reader:
                if rec:
                    n += 1
                    if n == record:
                        return start
                start = reader.line_num + 1
    except (csv.Error, EOFError, OSError, zlib.error, UnicodeDecodeError):
        pass
    return record + 1


# -- public API -------------------------------------------------------------------------
def _current_import(store: Store, sha: str) -> str | None:
    """The source a file with this content was last imported into, if that import is current."""
    row = store.conn.execute(
        """SELECT s.name FROM imports i JOIN sources s ON s.id = i.source_id
           WHERE i.sha256 = ? AND i.imported_at = (SELECT max(imported_at) FROM imports j
                                                   WHERE j.source_id = i.source_id)
             AND EXISTS (SELECT 1 FROM costs c WHERE c.source_id = i.source_id)
           ORDER BY i.id DESC LIMIT 1""",
        (sha,),
    ).fetchone()
    return str(row[0]) if row else None


def import_files(
    store: Store,
    paths: list[Path],
    *,
    source_name: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> list[ImportResult]:
    """Import FOCUS files into the cache, all or nothing. See the module docstring."""
    if store.is_demo():
        raise InputError(
            f"{store.path}: is the demo cache; import into your own cache with --db PATH (or COSTDECK_DB)"
        )
    if not paths:
        raise InputError("no files to import")
    files: list[_File] = []
    results: list[ImportResult] = []
    seen: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        if progress:
            progress(f"checking {p.name}", 0, None)
        f = _sniff(p)
        f.source = source_name or f"file:{p.name}"
        kind = store.conn.execute("SELECT kind FROM sources WHERE name=?", (f.source,)).fetchone()
        if kind and kind[0] != SOURCE_KIND:
            raise InputError(
                f"{f.display}: source {f.source!r} is a {kind[0]} source, not a FOCUS import; "
                "choose another --source"
            )
        prior = seen.get(f.sha256) or (None if force else _current_import(store, f.sha256))
        res = ImportResult(path=p, source_name=f.source, file_format=f.fmt, sha256=f.sha256)
        f.result = res
        results.append(res)
        if prior is not None:
            res.skipped = True
            res.source_name = prior
        seen.setdefault(f.sha256, f.source)
        files.append(f)
    # A source replaced in this run must get back every file it held: un-skip its files.
    replaced = {f.source for f in files if f.result and not f.result.skipped}
    for f in files:
        if f.result and f.result.skipped and f.result.source_name in replaced and f.result.source_name == f.source:
            if sum(1 for g in files if g.sha256 == f.sha256 and g.result and not g.result.skipped) == 0:
                f.result.skipped = False
    todo = [f for f in files if f.result and not f.result.skipped]
    if not todo:
        return results

    imp = _Importer(store, progress)
    try:
        for i, f in enumerate(todo):
            label = f"reading {f.path.name}"
            imp._tick(label, i, len(todo))
            imp.describe(f)
            imp.check_columns(f)
            assert f.result is not None
            f.result.focus_version = f.version
            imp.aggregate(f)
            imp.finish(f)
        imp._tick("reading done", len(todo), len(todo))
        stamp = timeutil.iso(timeutil.now())
        by_source: dict[str, list[_File]] = {}
        for f in todo:
            by_source.setdefault(f.source, []).append(f)
        with store.transaction():
            for source, group in by_source.items():
                sid = store.ensure_source(
                    source, SOURCE_KIND, {"paths": [str(g.path.resolve()) for g in group]}
                )
                run = store.start_sync_run(sid)
                store.replace_costs(sid, [], window=None, in_transaction=True)  # drop the source's old rows
                n = 0
                with store.bulk_costs():  # large: indexes dropped for the insert, rebuilt after
                    with _Writer() as writer:  # SQLite inserts on a thread, DuckDB goes on here
                        for f in group:
                            n += imp.write(f, sid, writer)
                        imp.write_rollups(group, writer)
                run.rows = n
                run.detail = {"files": [g.path.name for g in group], "kind": "focus import"}
                store.finish_sync_run(run, "ok")
                for f in group:
                    r = f.result
                    assert r is not None
                    store.conn.execute(
                        "INSERT INTO imports(source_id, path, sha256, focus_version, input_rows, daily_rows, "
                        "imported_at) VALUES(?,?,?,?,?,?,?)",
                        (sid, str(f.path.resolve()), f.sha256, f.version, r.input_rows, r.daily_rows, stamp),
                    )
            store.touch_snapshot()
        # Fresh planner statistics (sampled, milliseconds) so the fine-grained Spend group-bys
        # pick their covering indexes instead of the day-range index.
        with contextlib.suppress(sqlite3.Error):
            store.analyze()
    except duckdb.Error as exc:  # not the input's fault (memory, disk): a runtime failure, exit 1
        raise CostdeckError(f"import failed, cache unchanged: {_first_line(exc)}") from None
    finally:
        imp.close()
    return results


__all__ = ["ImportResult", "import_files"]
