"""Exact money: amounts are integer micro-units (1e-6) of their currency.

Source amounts are parsed as Decimal (or summed as DECIMAL in DuckDB) and rounded
once, half-even, to micro-units at daily grain; every total after that is integer
arithmetic, so reports reconcile with the source to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICROS = 1_000_000
_Q = Decimal(1)


class MoneyError(ValueError):
    pass


def to_micros(value: object) -> int:
    """Decimal/int/str amount -> integer micro-units (half-even). Floats are refused."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, int):
        return value * MICROS
    if isinstance(value, float):
        raise MoneyError("float amounts are not exact; pass Decimal or str")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {value!r}") from exc
    if not d.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return int((d * MICROS).quantize(_Q, rounding=ROUND_HALF_EVEN))


def to_decimal(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


def decimal_str(micros: int) -> str:
    """Exact decimal text with six places: 1234567 -> '1.234567'."""
    return str((Decimal(micros) / MICROS).quantize(Decimal("0.000001")))


def cents(micros: int) -> Decimal:
    """Round to cents (half-even), as a Decimal with two places."""
    return (Decimal(micros) / MICROS).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


def fmt(micros: int | None, currency: str | None = "USD", *, compact: bool = False, places: int = 2) -> str:
    """Human money: $1,234.56 (or $1.2k compact). None -> '—'."""
    if micros is None:
        return "—"
    sym = _SYMBOLS.get(currency or "", "")
    suffix = "" if sym or not currency else f" {currency}"
    d = Decimal(micros) / MICROS
    sign = "-" if d < 0 else ""
    d = abs(d)
    if compact:
        for limit, div, unit in ((10**9, 10**9, "B"), (10**6, 10**6, "M"), (10**4, 10**3, "k")):
            if d >= limit:
                return f"{sign}{sym}{(d / div):,.1f}{unit}{suffix}"
    q = Decimal(1).scaleb(-places)
    return f"{sign}{sym}{d.quantize(q, rounding=ROUND_HALF_EVEN):,}{suffix}"


def pct_change(now: int, before: int) -> float | None:
    if before == 0:
        return None
    return (now - before) / abs(before) * 100.0
