"""Deterministic sample sources for the Finance Overtime Accruals data product.

Writes two CSV extracts into ``domains/finance/data/`` as the group's ERP (controlling
module) would export them:

- ``cost_centers.csv``  the controlling mapping of every (legal entity, HR department) pair to
                        its cost center, the general-ledger account overtime wages are booked
                        on, and the profit center the cost center rolls up to
- ``budget.csv``        the monthly overtime budget of every cost center for the 13 months
                        2025-10 .. 2026-10, in the entity's currency, with a couple of
                        badly typed rows that silver must clean

The (entity, department) pairs are those of HR's employee master (``domains/hr/data``); they
are listed here rather than read from HR's files, so that this generator does not depend on
another domain's sources. The product's quality rules prove at run time that every pair HR
publishes maps to a cost center.

Every run writes byte-for-byte identical files: no randomness, no clock, ``\\n`` line
endings, stable order.

    python -m domains.finance.sample_data [OUT_DIR]
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from platform_core.scaffold.sample_data import run_generator, write_csv

DATA_DIR = Path(__file__).resolve().parent / "data"

# The 13 months of HR's overtime records, as yyyymm.
PERIODS = [2025_10, 2025_11, 2025_12] + [2026_00 + month for month in range(1, 11)]

# entity_id -> (entity currency, ISO 4217)
ENTITIES = {"DE01": "EUR", "ES01": "EUR", "FR01": "EUR", "GB01": "GBP"}

# HR department -> (cost center code, number, profit center suffix)
DEPARTMENTS = {
    "Operations": ("OPS", 100, "PC10"),
    "Logistics": ("LOG", 200, "PC10"),
    "Customer Service": ("CSR", 300, "PC20"),
    "Engineering": ("ENG", 400, "PC90"),
    "Finance": ("FIN", 500, "PC90"),
    "Sales": ("SAL", 600, "PC20"),
}
# Profit centers: PC10 warehousing and transport, PC20 customers and sales, PC90 corporate functions.

# Overtime wages are booked on one account of the chart of accounts (641 = staff wages).
GL_OVERTIME_WAGES = "641100"

# Planned overtime per cost center for an average month, in the entity's currency (FY plan).
MONTHLY_BASE_BUDGET = {
    "DE01": {
        "Operations": 4800,
        "Logistics": 6000,
        "Customer Service": 1300,
        "Engineering": 3800,
        "Finance": 400,
        "Sales": 600,
    },
    "ES01": {
        "Operations": 3300,
        "Logistics": 3600,
        "Customer Service": 2500,
        "Engineering": 1800,
        "Finance": 450,
        "Sales": 450,
    },
    "FR01": {
        "Operations": 4400,
        "Logistics": 4900,
        "Customer Service": 2600,
        "Engineering": 3200,
        "Finance": 650,
        "Sales": 500,
    },
    "GB01": {
        "Operations": 2400,
        "Logistics": 4100,
        "Customer Service": 3000,
        "Engineering": 3200,
        "Finance": 350,
        "Sales": 1200,
    },
}

# Planning profile by calendar month: year-end peak, summer dip (FP&A's phasing key).
PHASING = {
    1: Decimal("1.05"),
    2: Decimal("0.85"),
    3: Decimal("0.95"),
    4: Decimal("0.90"),
    5: Decimal("0.90"),
    6: Decimal("1.05"),
    7: Decimal("0.80"),
    8: Decimal("0.65"),
    9: Decimal("1.00"),
    10: Decimal("1.00"),
    11: Decimal("1.25"),
    12: Decimal("1.40"),
}
# Finance's own overtime follows the closings (month end, more at year and half-year end).
FINANCE_PHASING = {12: Decimal("1.80"), 1: Decimal("2.00"), 6: Decimal("1.40")}

# Rows typed in by hand in the ERP export: silver must clean them (documented, tested by the
# product's rules: typed columns, unique keys, every HR department mapped).
DIRTY_COST_CENTERS = [
    {
        "cost_center": "ES01-CSR-300",
        "problem": "entity_id in lower case and department with surrounding spaces",
        "expected": "cleaned",
    },
    {"cost_center": "GB01-SAL-600", "problem": "cost_center in lower case", "expected": "cleaned"},
]
DIRTY_BUDGET = [
    {
        "cost_center": "DE01-LOG-200",
        "period_id": 202512,
        "problem": "budget_amount with a comma decimal separator",
        "expected": "cleaned",
    },
    {
        "cost_center": "GB01-OPS-100",
        "period_id": 202603,
        "problem": "currency in lower case with a trailing space",
        "expected": "cleaned",
    },
]

COST_CENTER_COLUMNS = ["entity_id", "department", "cost_center", "cost_center_name", "gl_account", "profit_center"]
BUDGET_COLUMNS = ["cost_center", "period_id", "budget_amount", "currency"]


def build_cost_centers() -> list[dict[str, str]]:
    """One cost center per legal entity and department, in entity then department number order."""
    rows = []
    for entity_id in sorted(ENTITIES):
        for department, (code, number, profit_center) in sorted(DEPARTMENTS.items(), key=lambda d: d[1][1]):
            rows.append(
                {
                    "entity_id": entity_id,
                    "department": department,
                    "cost_center": f"{entity_id}-{code}-{number}",
                    "cost_center_name": f"{entity_id} {department}",
                    "gl_account": GL_OVERTIME_WAGES,
                    "profit_center": f"{entity_id}-{profit_center}",
                }
            )
    return rows


def build_budget(cost_centers: list[dict[str, str]]) -> list[dict[str, str]]:
    """Monthly overtime budget: the base budget phased by month, rounded to tens."""
    rows = []
    for cc in cost_centers:
        base = Decimal(MONTHLY_BASE_BUDGET[cc["entity_id"]][cc["department"]])
        for period_id in PERIODS:
            month = period_id % 100
            phasing = FINANCE_PHASING.get(month, PHASING[month]) if cc["department"] == "Finance" else PHASING[month]
            amount = (base * phasing / 10).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * 10
            rows.append(
                {
                    "cost_center": cc["cost_center"],
                    "period_id": str(period_id),
                    "budget_amount": f"{amount:.2f}",
                    "currency": ENTITIES[cc["entity_id"]],
                }
            )
    return rows


def dirty_cost_center_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Apply DIRTY_COST_CENTERS to copies of the clean rows."""
    rows = [dict(r) for r in rows]
    by_id = {r["cost_center"]: r for r in rows}
    row = by_id["ES01-CSR-300"]
    row["entity_id"], row["department"] = row["entity_id"].lower(), f"  {row['department']} "
    by_id["GB01-SAL-600"]["cost_center"] = "gb01-sal-600"
    return rows


def dirty_budget_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Apply DIRTY_BUDGET to copies of the clean rows."""
    rows = [dict(r) for r in rows]
    by_key = {(r["cost_center"], r["period_id"]): r for r in rows}
    row = by_key[("DE01-LOG-200", "202512")]
    row["budget_amount"] = row["budget_amount"].replace(".", ",")
    row = by_key[("GB01-OPS-100", "202603")]
    row["currency"] = row["currency"].lower() + " "
    return rows


def generate(out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write the two CSV files into `out_dir`; returns the number of data rows per file."""
    out_dir = Path(out_dir)
    cost_centers = build_cost_centers()
    budget = build_budget(cost_centers)
    return {
        "cost_centers.csv": write_csv(
            out_dir / "cost_centers.csv",
            COST_CENTER_COLUMNS,
            [[r[c] for c in COST_CENTER_COLUMNS] for r in dirty_cost_center_rows(cost_centers)],
        ),
        "budget.csv": write_csv(
            out_dir / "budget.csv", BUDGET_COLUMNS, [[r[c] for c in BUDGET_COLUMNS] for r in dirty_budget_rows(budget)]
        ),
    }


def main(argv: list[str] | None = None) -> None:
    run_generator(generate, DATA_DIR, argv)


if __name__ == "__main__":
    main()
