"""The input files: what each one is (sniffed by content), its hash, its CSV header, and
the Python scans that name the line of a CSV problem on the error path."""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cache.money import cents

from ..errors import InputError
from .columns import duplicate_column, duplicate_message

PARQUET_SUFFIXES = (".parquet", ".pq")

# Leading bytes of formats sometimes given by mistake: named in the error.
BINARY_KINDS = (
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


@dataclass(slots=True)
class FocusFile:
    """One input file as the import goes: sniffed, described, then its DuckDB tables."""

    path: Path
    display: str
    fmt: str  # "csv", "csv.gz" or "parquet"
    sha256: str
    size: int
    columns: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # column -> DuckDB type (CSV: all VARCHAR)
    delim: str = ","
    version: str = "unknown"
    source: str = ""
    table: str = ""  # the pass-1 table, then the daily rows (pass 2)
    rows_table: str = ""  # the daily rows with dimension ids, as written to the cache
    result: ImportResult | None = None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:200]


# -- sniffing -------------------------------------------------------------------------
def sniff(path: Path) -> FocusFile:
    """Check that `path` is a readable, non-empty Parquet, CSV.gz or CSV (UTF-8) file, and hash it."""
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
    fmt = _format(display, path, head, tail)
    return FocusFile(path=path, display=display, fmt=fmt, sha256=_sha256(path), size=size)


def _format(display: str, path: Path, head: bytes, tail: bytes) -> str:
    if head.startswith(b"PAR1"):
        if tail != b"PAR1":
            raise InputError(f"{display}: truncated Parquet file (the footer is missing)")
        return "parquet"
    if path.suffix.lower() in PARQUET_SUFFIXES:
        # Named as Parquet but it is not: say so rather than reading it as CSV ("missing columns").
        raise InputError(
            f"{display}: not a Parquet file (no PAR1 signature); a FOCUS export must be Parquet, CSV or CSV.gz"
        )
    if head.startswith(b"\x1f\x8b"):
        return "csv.gz"
    for magic, what in BINARY_KINDS:
        if head.startswith(magic):
            raise InputError(f"{display}: not a FOCUS export: the file is {what}")
    text = head.lstrip(b"\xef\xbb\xbf")
    if b"\x00" in text or not _utf8_prefix(text):
        raise InputError(f"{display}: not a FOCUS export: binary content, expected CSV, CSV.gz or Parquet")
    return "csv"


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


# -- CSV ------------------------------------------------------------------------------
@contextmanager
def open_text(f: FocusFile) -> Iterator[Any]:
    if f.fmt == "csv.gz":
        fh = gzip.open(f.path, "rt", encoding="utf-8-sig", newline="")
    else:
        fh = f.path.open("r", encoding="utf-8-sig", newline="")
    try:
        yield fh
    finally:
        fh.close()


def read_csv_header(f: FocusFile) -> None:
    """Set the delimiter (the most frequent of , ; tab | in the header line) and the column
    names (blank names become columnN, repeated ones get _2, _3, ...) of a CSV file."""
    try:
        with open_text(f) as fh:
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
    dup = duplicate_column(header)
    if dup is not None:
        raise InputError(duplicate_message(f.display, dup))
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


def scan_csv_structure(f: FocusFile) -> None:
    """Error path: read the CSV with Python to name the first structurally bad line."""
    ncols = len(f.columns)
    line = 1
    try:
        with open_text(f) as fh:
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
            f"{f.display}: truncated or corrupt gzip data after row {line - 1} ({first_line(exc)})"
        ) from None
    except UnicodeDecodeError:
        utf8_error(f)
        raise InputError(f"{f.display}: row {line}: not UTF-8 text") from None


def utf8_error(f: FocusFile) -> None:
    """Error path: raise naming the file line (header = line 1; a quoted field may span lines, so
    the line is not always the data row number + 1) and the column of the first non-UTF-8 byte.

    Read as bytes line by line: a text reader decodes ahead in chunks and would fail earlier."""
    opener = gzip.open if f.fmt == "csv.gz" else open
    try:
        with opener(f.path, "rb") as fh:
            for n, data in enumerate(fh, 1):
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    byte = data[exc.start]
                    col = _column_of_bad_byte(f, data)
                    raise InputError(
                        f"{f.display}: row {n} (file line), column {col}: expected UTF-8 text, "
                        f"got the byte 0x{byte:02x}"
                    ) from None
    except (EOFError, OSError, zlib.error):
        return


def _column_of_bad_byte(f: FocusFile, data: bytes) -> str:
    """The column of the field of this line holding the first undecodable byte."""
    text = data.decode("utf-8", errors="surrogateescape")
    try:
        fields = next(csv.reader([text.rstrip("\r\n")], delimiter=f.delim))
    except (csv.Error, StopIteration):
        fields = []
    for i, field_text in enumerate(fields):
        if any("\udc80" <= ch <= "\udcff" for ch in field_text):
            return f.columns[i] if i < len(f.columns) else f"{i + 1}"
    return "(unknown)"


def csv_line_of_record(f: FocusFile, record: int) -> int:
    """The file line where data record `record` (1-based) starts (quoted fields may span lines)."""
    try:
        with open_text(f) as fh:
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
