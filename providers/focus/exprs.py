"""SQL expressions over the rows of one input file, as the file types them: the file as a
DuckDB relation (`relation`), each FOCUS column read (`FileExprs`) and the per-row validation
checks (`FileExprs.checks`). Text only: nothing here runs a query."""

from __future__ import annotations

from .columns import (
    DATE_EXPECTED,
    DAY_WINDOW_END,
    FINITE_EXPECTED,
    FIRST_DAY,
    ISO_DATETIME_RE,
    MONEY,
    NOT_NULL,
    NUM_EXPECTED,
    PROVIDER_COLUMNS,
    QUANTITIES,
    STRING_DIMS,
    TEXT_EXPECTED,
    WINDOW_EXPECTED,
    find_column,
)
from .files import FocusFile

DEC = "DECIMAL(38,18)"  # exact for any amount up to 10^20 with 18 decimal places

# A validation check: (FOCUS column, bad-row condition, raw value expression, expected).
Check = tuple[str, str, str, str]


def qi(name: str) -> str:
    """A quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(text: str) -> str:
    """A quoted string literal."""
    return "'" + text.replace("'", "''") + "'"


def exact_numeric(t: str) -> bool:
    return t.startswith("DECIMAL") or t in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    }


def temporal(t: str) -> bool:
    return t.startswith("TIMESTAMP") or t == "DATE"


def floating(t: str) -> bool:
    return t in {"FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"}


def nested(t: str) -> bool:
    """A STRUCT, MAP, LIST, ARRAY or UNION type: never a FOCUS text, number or date value."""
    return t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION", "LIST"))



def relation(f: FocusFile, *, numbered: bool = False) -> str:
    """The file as a DuckDB relation (CSV: every column VARCHAR, '' and NULL read as null);
    `numbered` adds __rn, the 1-based data row number in file order (single-threaded)."""
    p = ql(str(f.path))
    if f.fmt == "parquet":
        extra = ", file_row_number = true" if numbered else ""
        src = f"read_parquet({p}{extra})"
        if numbered:
            return f"(SELECT file_row_number + 1 AS __rn, * FROM {src})"
        return src
    cols = "{" + ", ".join(f"{ql(c)}: 'VARCHAR'" for c in f.columns) + "}"
    comp = "gzip" if f.fmt == "csv.gz" else "none"
    src = (
        f"read_csv({p}, columns = {cols}, auto_detect = false, header = true, delim = {ql(f.delim)}, "
        f"quote = '\"', escape = '\"', nullstr = ['NULL', ''], strict_mode = true, "
        f"compression = '{comp}', max_line_size = 16777216)"
    )
    if numbered:
        return f"(SELECT row_number() OVER () AS __rn, * FROM {src})"
    return src


class FileExprs:
    """Expressions over one input row of `f` (pass 1 keeps them minimal: casts only where needed)."""

    def __init__(self, f: FocusFile) -> None:
        self.f = f

    def col(self, name: str) -> str | None:
        return find_column(self.f.columns, name)

    def ctype(self, name: str) -> str:
        c = self.col(name)
        return self.f.types.get(c, "VARCHAR").upper() if c else "VARCHAR"

    def raw(self, name: str) -> str | None:
        """The column as read (nulls applied), or None when the file lacks it. A nested column
        (STRUCT, LIST, ...) is read as a VARCHAR null: `_nested_checks` refuses its values."""
        c = self.col(name)
        if c is None:
            return None
        if nested(self.ctype(name)):
            return "CAST(NULL AS VARCHAR)"
        if self.ctype(name) == "VARCHAR":
            # Also keeps DuckDB from pushing a TRY_CAST into the CSV reader, where it would
            # become a hard conversion error instead of a NULL we can report with its row.
            return f"nullif(nullif({qi(c)}, ''), 'NULL')"
        return qi(c)

    def key(self, name: str) -> str:
        """A string dimension as a pass-1 group key: the column itself (nulls are cleaned in pass 2)."""
        c = self.col(name)
        if c is None:
            return "CAST(NULL AS VARCHAR)"
        if nested(self.ctype(name)):
            return "CAST(NULL AS VARCHAR)"  # refused by `_nested_checks`
        if self.ctype(name) != "VARCHAR":
            return f"CAST({qi(c)} AS VARCHAR)"
        return qi(c)

    def provider_key(self) -> str:
        cols = [c for c in PROVIDER_COLUMNS if self.col(c)]
        if len(cols) == 1:
            return self.key(cols[0])
        return f"coalesce(nullif(nullif({self.key(cols[0])}, ''), 'NULL'), {self.key(cols[1])})"

    def tags_key(self) -> str:
        c = self.col("Tags")
        if c is None:
            return "CAST(NULL AS VARCHAR)"
        t = self.ctype("Tags")
        if t.startswith("MAP") or t.startswith("STRUCT"):
            return f"CAST(to_json({qi(c)}) AS VARCHAR)"
        return self.key("Tags")

    def tags_value(self) -> str:
        return f"nullif(nullif({self.tags_key()}, ''), 'NULL')"

    def amount(self, name: str) -> str:
        r = self.raw(name)
        if r is None:
            return f"CAST(NULL AS {DEC})"
        if exact_numeric(self.ctype(name)):
            return r  # summed exactly in its own type
        return f"TRY_CAST({r} AS {DEC})"

    def instant(self, name: str) -> str:
        """The column as TIMESTAMPTZ (NULL when absent, null or unparsable)."""
        r = self.raw(name)
        if r is None:
            return "CAST(NULL AS TIMESTAMPTZ)"
        if temporal(self.ctype(name)):
            return f"CAST({r} AS TIMESTAMPTZ)"  # a naive TIMESTAMP is UTC (session zone)
        return f"TRY_CAST({r} AS TIMESTAMPTZ)"

    def day(self) -> str:
        """The UTC date of ChargePeriodStart."""
        start = self.raw("ChargePeriodStart")
        if temporal(self.ctype("ChargePeriodStart")):
            return f"CAST({start} AS DATE)"  # TIMESTAMP (naive = UTC) or TIMESTAMPTZ, session zone UTC
        return f"CAST(TRY_CAST({start} AS TIMESTAMPTZ) AS DATE)"

    def checks(self) -> list[Check]:
        """(FOCUS column, bad-row condition, raw value expression, expected) per checked column,
        in the file's column order. A value expression may give a list [value, other]: the
        message then shows both."""
        out = [*self._nested_checks(), *self._period_checks(), *self._null_checks(), *self._number_checks()]
        order = {c.lower(): i for i, c in enumerate(self.f.columns)}
        out.sort(key=lambda x: order.get(x[0].lower(), 10**6))  # stable: a bad end date before a backwards one
        return out

    def _nested_checks(self) -> list[Check]:
        """A STRUCT/LIST/MAP value where FOCUS has a text, number or date column (Tags excepted)."""
        out: list[Check] = []
        names = [*PROVIDER_COLUMNS, *(c for _, c in STRING_DIMS), *(c for _, c in (*MONEY, *QUANTITIES)),
                 "ChargePeriodStart", "ChargePeriodEnd"]
        for name in names:
            c = self.col(name)
            if c is None or not nested(self.ctype(name)):
                continue
            expected = TEXT_EXPECTED
            if name.startswith("ChargePeriod"):
                expected = DATE_EXPECTED
            elif name.endswith(("Cost", "Quantity")):
                expected = NUM_EXPECTED
            t = self.ctype(name)
            kind = "LIST" if t.endswith("]") else t.split("(")[0]
            out.append((c, f"{qi(c)} IS NOT NULL", f"CAST({qi(c)} AS VARCHAR)", f"{expected}, not a {kind}"))
        return out

    def flat(self, name: str) -> str | None:
        """`raw` for a column the file has with a flat type (nested ones have `_nested_checks`)."""
        return None if nested(self.ctype(name)) else self.raw(name)

    def _period_checks(self) -> list[Check]:
        out: list[Check] = []
        lo = f"TIMESTAMPTZ '{FIRST_DAY} 00:00:00+00'"
        hi = f"TIMESTAMPTZ '{DAY_WINDOW_END} 00:00:00+00'"
        for name in ("ChargePeriodStart", "ChargePeriodEnd"):
            r = self.flat(name)
            if r is None:
                continue
            if temporal(self.ctype(name)):
                out.append((name, f"{r} IS NULL", f"CAST({r} AS VARCHAR)", DATE_EXPECTED))
            else:
                # ISO 8601 only: DuckDB would also read 4/1/25 (as the year 0004)
                out.append((name, f"(NOT regexp_full_match({r}, {ql(ISO_DATETIME_RE)}) "
                                  f"OR TRY_CAST({r} AS TIMESTAMPTZ) IS NULL)",
                            f"CAST({r} AS VARCHAR)", DATE_EXPECTED))
            # inside the days the cache keeps (the end may be the midnight closing the last day)
            t = self.instant(name)
            above = f"{t} > {hi}" if name == "ChargePeriodEnd" else f"{t} >= {hi}"
            out.append((name, f"coalesce({t} < {lo} OR {above}, false)", f"CAST({r} AS VARCHAR)",
                        WINDOW_EXPECTED))
        start, end = self.flat("ChargePeriodStart"), self.flat("ChargePeriodEnd")
        if start is not None and end is not None:
            # the period must not run backwards (rows whose bounds do not parse are reported above)
            out.append((
                "ChargePeriodEnd",
                f"coalesce({self.instant('ChargePeriodEnd')} < {self.instant('ChargePeriodStart')}, false)",
                f"[CAST({end} AS VARCHAR), CAST({start} AS VARCHAR)]",
                "a date/time not before ChargePeriodStart",
            ))
        return out

    def _null_checks(self) -> list[Check]:
        out: list[Check] = []
        cols = [c for c in PROVIDER_COLUMNS if self.col(c)]
        if cols and not any(nested(self.ctype(c)) for c in cols):
            provider = " AND ".join(f"{self.raw(c)} IS NULL" for c in cols)
            shown = self.col(cols[0]) or cols[0]
            out.append((shown, provider, f"CAST({self.raw(cols[0])} AS VARCHAR)", "a provider name"))
        for name, expected in NOT_NULL:
            r = self.flat(name)
            if r is not None:
                out.append((name, f"{r} IS NULL", f"CAST({r} AS VARCHAR)", expected))
        return out

    def _number_checks(self) -> list[Check]:
        out: list[Check] = []
        for name, required in (
            ("BilledCost", True),
            ("EffectiveCost", False),
            ("ListCost", False),
            ("ContractedCost", False),
            ("PricingQuantity", False),
            ("ConsumedQuantity", False),
        ):
            r = self.flat(name)
            if r is None:
                continue
            if floating(self.ctype(name)):
                cond = f"(isnan({r}) OR isinf({r}))"
                if required:
                    cond = f"({r} IS NULL OR {cond})"
                out.append((name, f"coalesce({cond}, false)", f"CAST({r} AS VARCHAR)", FINITE_EXPECTED))
                continue
            if exact_numeric(self.ctype(name)):
                if required:
                    out.append((name, f"{r} IS NULL", f"CAST({r} AS VARCHAR)", NUM_EXPECTED))
                continue
            cond = f"TRY_CAST({r} AS {DEC}) IS NULL"
            if not required:
                cond = f"({r} IS NOT NULL AND {cond})"
            out.append((name, cond, f"CAST({r} AS VARCHAR)", NUM_EXPECTED))
        return out
