"""pandas steps of the HR Overtime product.

Only the employee master is cleaned in pandas: it is typed in by hand in the HR system, and
name clean-up (stray spaces, wrong case, accents kept) reads better in Python than in SQL.
Everything else runs as SQL inside DuckDB.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

_SPACES = re.compile(r"\s+")


def _clean_text(value: object) -> str | None:
    """Trim and collapse inner whitespace; empty becomes None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    return text or None


def _clean_name(value: object) -> str | None:
    """Fix names typed all upper or all lower case; leave deliberate casing (McKenna, van Dijk) alone."""
    text = _clean_text(value)
    if text and (text.isupper() or text.islower()):
        text = text.title()
    return text


def _parse_rate(value: object) -> float | None:
    """Hourly rate as a number: accepts a comma as decimal separator ("23,50")."""
    text = _clean_text(value)
    if text is None:
        return None
    try:
        return round(float(text.replace(",", ".")), 2)
    except ValueError:
        return None


def _parse_date(value: object) -> date | None:
    text = _clean_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _clean_code(value: object) -> str | None:
    """Identifiers and codes (E00042, FR01) are upper case without spaces."""
    text = _clean_text(value)
    return text.upper() if text else None


def clean_employees(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Silver employee master: one typed, cleaned row per employee of raw_employees."""
    raw = inputs["raw_employees"]
    out = pd.DataFrame(
        {
            "employee_id": raw["employee_id"].map(_clean_code),
            "first_name": raw["first_name"].map(_clean_name),
            "last_name": raw["last_name"].map(_clean_name),
            "email": raw["email"].map(lambda v: (_clean_text(v) or "").lower() or None),
            "entity_id": raw["entity_id"].map(_clean_code),
            "department": raw["department"].map(_clean_text),
            "team": raw["team"].map(_clean_text),
            "manager_id": raw["manager_id"].map(_clean_code),
            "job_title": raw["job_title"].map(_clean_text),
            # date objects (object dtype) so that DuckDB types the column DATE, not TIMESTAMP
            "hire_date": raw["hire_date"].map(_parse_date).astype(object),
            "hourly_rate": raw["hourly_rate"].map(_parse_rate).astype("float64"),
            "weekly_contract_hours": raw["weekly_contract_hours"].map(_parse_rate).astype("float64"),
            # traceability: the data row of employees.csv this employee comes from
            "source_row": raw["source_row"].astype("int64"),
        }
    )
    return out.sort_values("employee_id", kind="stable").reset_index(drop=True)
