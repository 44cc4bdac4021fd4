"""The FOCUS columns the importer reads (FOCUS 1.0 to 1.3) and what it makes of them.

Column names are matched case-insensitively (`find_column`). The version of a file is a
guess from the columns each version added (`detect_version`); the import itself reads the
same columns whatever the version (1.3 renamed ProviderName to ServiceProviderName: either
is accepted).
"""

from __future__ import annotations

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

# Mandatory columns FOCUS says must not be null (AllowsNulls False in the 1.2 column table), checked
# on every row: (column, what is expected). The provider (either name), the charge period bounds
# and BilledCost are checked with their own rules in `sql.FileExprs.checks`. ServiceName is also
# non-null in the spec but is not enforced: a missing service shows as "(none)" rather than
# refusing an export.
NOT_NULL = (
    ("BillingAccountId", "a billing account id"),
    ("BillingCurrency", "a currency code"),
    ("ChargeCategory", "one of Usage, Purchase, Tax, Credit, Adjustment"),
)
DATE_EXPECTED = "a date/time such as 2024-09-01T00:00:00Z"
NUM_EXPECTED = "a decimal number"
FINITE_EXPECTED = "a finite decimal number"
TEXT_EXPECTED = "a text value"
# The days the cache keeps (and a report can read back): a charge period must lie in this window.
# Anything else is a broken export (9999-12-31 "open" ends, year 0004 from a misread 4/1/25) and
# would make every later report fail. The end may be the midnight that closes the last day.
FIRST_DAY = "1970-01-01"
LAST_DAY = "2100-12-31"
DAY_WINDOW_END = "2101-01-01"
WINDOW_EXPECTED = f"a date/time from {FIRST_DAY} to {LAST_DAY} (the days the cache keeps)"
# ISO 8601 date/times as FOCUS requires (a space may stand for the T, the seconds and the zone may
# be left out; a zone is Z or +HH[:MM]/-HH[:MM]). Anything else (4/1/25, 01.09.2024) is refused.
ISO_DATETIME_RE = (
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s?(Z|z|[+-]\d{2}(:?\d{2})?)?"
)

# Columns first defined by each FOCUS version (used to guess the version of a file).
VERSION_MARKERS: tuple[tuple[str, frozenset[str]], ...] = (
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
CANONICAL_VALUES = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other", "On-Demand"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
}

# Output string dimensions of the daily rows: (name in the DuckDB table, FOCUS column).
STRING_DIMS: tuple[tuple[str, str], ...] = (
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
# Summed columns: (name in the DuckDB table, FOCUS column). Money is rounded to nano-units,
# quantities are kept as DOUBLE.
MONEY: tuple[tuple[str, str], ...] = (
    ("billed", "BilledCost"),
    ("effective", "EffectiveCost"),
    ("list", "ListCost"),
    ("contracted", "ContractedCost"),
)
# The money the cache can hold: amounts are stored as integer nano-units (1e-9) and SQLite sums
# them as 64-bit integers (at most 9.22e18 nanos = 9.22e9 units), so the absolute amounts of each
# money column over the whole cache (every source, every currency) must stay below this many units
# for any report's sum to be safe.
MONEY_LIMIT_UNITS = 9_200_000_000
QUANTITIES: tuple[tuple[str, str], ...] = (
    ("pricing_quantity", "PricingQuantity"),
    ("consumed_quantity", "ConsumedQuantity"),
)
DIM_NAMES = ("provider_name", *(name for name, _ in STRING_DIMS))
# Every FOCUS column the import reads (lower case): each may appear once in a file.
READ_COLUMNS = frozenset(
    c.lower()
    for c in (*MANDATORY, *PROVIDER_COLUMNS, *(col for _, col in (*STRING_DIMS, *MONEY, *QUANTITIES)), "Tags")
)


def duplicate_column(names: list[str]) -> tuple[str, int, int] | None:
    """The first column the import reads that `names` holds twice (case-insensitive):
    (name, first 1-based position, second), None when there is none."""
    first: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        key = name.strip().lower()
        if key in READ_COLUMNS:
            if key in first:
                return name.strip(), first[key], i
            first[key] = i
    return None


def duplicate_message(display: str, dup: tuple[str, int, int]) -> str:
    name, i, j = dup
    return (f"{display}: row 1, column {name}: expected each FOCUS column once in the header, "
            f"got it twice (columns {i} and {j})")

# cache dims kind -> (value column, label column, extra column) of the daily table.
DIM_KINDS: tuple[tuple[str, str, str | None, str | None], ...] = (
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


def find_column(columns: list[str], name: str) -> str | None:
    """The file's spelling of FOCUS column `name` (case-insensitive), None when it lacks it."""
    lower = {c.lower(): c for c in columns}
    return lower.get(name.lower())


def detect_version(columns: list[str]) -> str:
    lower = {c.lower() for c in columns}
    for version, markers in VERSION_MARKERS:
        if lower & markers:
            return version
    return "unknown"
