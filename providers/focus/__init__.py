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
   ChargeCategory, ChargePeriodStart/End, BilledCost; see `columns.NOT_NULL`) and a
   ChargePeriodEnd before its ChargePeriodStart, so a good file is read once. What would break a
   later read of the cache is refused the same way ("no accepted poison"): text dates that are not
   ISO 8601 (DuckDB alone would read 4/1/25 as the year 0004), charge periods outside the days the
   cache keeps (`columns.FIRST_DAY`..`LAST_DAY`, 1970-01-01..2100-12-31), NaN or infinite amounts
   and quantities (Parquet floats), STRUCT/LIST/MAP values in a text, number or date column. A
   FOCUS column named twice in the header (case-insensitive) is refused before any row is read. Only when that
   count is non-zero does a second, single-threaded pass number the rows to name the first
   bad one (file row / CSV line and column).
   The money range: amounts are stored as integer nano-units summed by SQLite in 64 bits, so per
   money column the absolute amounts of the file, the files read before it and the cache's rows
   that are kept (other sources) must stay below `columns.MONEY_LIMIT_UNITS` (9.2e9 units, any
   currency); otherwise the file's largest amount is named.
3. Tag JSON is validated (a JSON object, nested at most `read.MAX_TAGS_DEPTH` = 32 levels)
   and canonicalised in Python per distinct value, then joined
   back in DuckDB; the daily rows are re-aggregated on the canonical tag set and each
   daily amount is rounded ONCE, half-even, to integer nano-units (the rounding rule
   of `cache.money`, done exactly on DECIMALs by DuckDB).
4. Only when every file given has passed, everything is written in ONE SQLite
   transaction: per source the old rows are removed (`Store.replace_costs`); DuckDB
   resolves the dimension ids once per distinct value, numbers the source's cost lines,
   sums the daily facts per line and day and computes every rollup, and writes them
   into a staging SQLite file through its SQLite extension, which SQLite copies in
   (`Store.insert_costs_from_file`, inside `Store.bulk_costs`: a large import drops the
   rollups' secondary indexes and rebuilds them after the insert); without the
   extension the rows are handed over from Python and the store rebuilds the rollups.
   The import and a sync run are recorded, the snapshot time touched. Any failure rolls
   the cache back to exactly what it was. Planner statistics are refreshed after the commit.

Errors are `InputError` (exit code 2) with one line naming the file, the row (CSV: the
line number in the file, header = line 1; Parquet: the 1-based row number), the column
and what was expected. A non-UTF-8 byte in a CSV says "row N (file line)": the line read as bytes.
The cache is only written after every file has passed, so a refused import leaves it unchanged.

The DuckDB temp dir of an import is named costdeck-import-<pid>-*; each import first removes
those of processes that no longer exist (a killed import), never a live one's.

Modules
-------
- `importer`: `import_files` (which files, read them all, write them in one transaction);
- `files`: sniffing, hashing and CSV headers of the input files; `ImportResult`;
- `columns`: the FOCUS columns read (1.0 to 1.3) and the version guess;
- `read`: pass 1 (file -> daily grain, bad rows counted) and pass 2 (cleanup, tags, rounding);
- `sql`: the SQL text of both passes and of the writing stage;
- `write`: the staged write (lines, facts, rollups) and the Python hand-over (writer thread);
- `duck`: the DuckDB connection shared by reading and writing.
"""

from __future__ import annotations

from .duck import Progress
from .files import ImportResult
from .importer import SOURCE_KIND, import_files

# The names tests/test_focus_fast_paths.py imports (from the single-module layout).
from .sql import decimal_scale as _decimal_scale  # noqa: F401
from .sql import nanos_sql as _nanos_sql  # noqa: F401

__all__ = ["SOURCE_KIND", "ImportResult", "Progress", "import_files"]
