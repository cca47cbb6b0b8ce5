"""The HR Overtime sources at any size: the four CSV extracts of domains/hr, scaled to N records.

    .venv/bin/python bench/hr_sources.py --rows 10000000 --out DIR

Writes entities.csv, employees.csv, overtime_reasons.csv and overtime_records.csv into DIR, as
`domains.hr.sample_data` does, with its reference data, rules and share of dirty rows:

- entities and overtime reasons: the sample's, unchanged;
- employees: the sample's organisation (350 people in teams, each with a lead) repeated until
  there are as many employees per record as in the sample (10,697 records for 350 employees,
  so 327k employees for 10M records); the first 350 are the sample's own employees, later
  copies have their own names, teams ("Site Operations 2") and managers. The sample's five
  badly typed employees are badly typed in every copy;
- overtime records: the sample's day-by-day model (department propensity, seasonality,
  finance closing, weekends and public holidays, reasons, submission delays, approval), drawn
  with numpy a day at a time, then thinned or completed at random to exactly N data rows
  (duplicates included). Every block of 10,695 records carries the sample's 14 dirty records
  at the same positions (cleaned, rejected, re-submitted, exported twice); the duplicates go
  at the end of the file, as in the sample.

Records are written a day at a time (a few thousand to 30k rows), never held all at once.
Same seed and N, same numpy: byte-identical files. Record ids keep the sample's format
(OT + 7 digits), so N is at most 9,999,999 records plus their duplicates.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import json
import random
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from domains.hr import sample_data as sample  # noqa: E402
from platform_core.scaffold.sample_data import money, write_csv  # noqa: E402

SAMPLE_EMPLOYEES = 350  # one copy of the organisation (TEAM_SIZES)
SAMPLE_ROWS = 10_697  # data rows of the sample's overtime_records.csv, duplicates included
BLOCK = 10_695  # records per block of dirty rows: the sample's records before its 2 duplicates
MAX_RECORD_ID = 9_999_999  # OT + 7 digits: silver rejects any other record id

# The sample's dirty records (DIRTY_RECORDS), by position in a block of BLOCK records.
DIRTY = {int(d["record_id"][2:]): d for d in sample.DIRTY_RECORDS}
RESUBMITTED, EXPORTED_TWICE = 5555, 7007
DEPARTMENTS = list(sample.DEPARTMENTS)
ENTITY_IDS = [e[0] for e in sorted(sample.ENTITIES)]
QUARTER_TEXT = [sample._hours(q) for q in range(80)]
TWO_DIGITS = [f"{n:02d}" for n in range(60)]


def csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Employees
# --------------------------------------------------------------------------------------


def organisation_copy(copy: int, used_emails: dict[tuple[str, str], int]) -> list[dict[str, str]]:
    """One copy of the sample's organisation, numbered E00001..E00350 as in the sample (the caller
    renumbers): copy 0 is exactly `sample.build_employees()`; later copies draw their own people."""
    rng = sample._rng("employees") if copy == 0 else random.Random(f"{sample.SEED}-employees-{copy}")
    suffix_team = "" if copy == 0 else f" {copy + 1}"
    employees: list[dict[str, str]] = []
    number = 0
    for entity_id, _name, _country, _currency, mail_domain in sorted(sample.ENTITIES):
        for department, (teams, _propensity, (low, high), titles, lead_title) in sample.DEPARTMENTS.items():
            for team, size in zip(teams, sample.TEAM_SIZES[entity_id][department], strict=False):
                lead_id = None
                for position in range(size):
                    number += 1
                    employee_id = f"E{number:05d}"
                    first = rng.choice(sample.FIRST_NAMES[entity_id])
                    last = rng.choice(sample.LAST_NAMES[entity_id])
                    local = f"{sample._ascii(first)}.{sample._ascii(last)}".lower().replace(" ", "-")
                    # the sample's rule (the first free of local, local2, local3...), counted rather than searched
                    taken = used_emails.get((local, mail_domain), 0)
                    email = f"{local}@{mail_domain}" if not taken else f"{local}{taken + 1}@{mail_domain}"
                    used_emails[(local, mail_domain)] = taken + 1
                    is_lead = position == 0
                    if is_lead:
                        lead_id = employee_id
                        hire = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 15 * 365))
                        cents = min(7500, int(rng.randint(low, high) * 1.2))
                    else:
                        if rng.random() < 0.04:
                            hire = sample.PERIOD_START + timedelta(days=rng.randrange(15, 300))
                        else:
                            hire = date(2012, 1, 1) + timedelta(days=rng.randrange(0, 13 * 365 + 200))
                            hire = min(hire, sample.BASELINE_HIRE_LIMIT)
                        cents = rng.randint(low, high)
                    contract = sample.WEEKLY_CONTRACT_HOURS[entity_id]
                    if not is_lead and rng.random() < 0.06:
                        contract = rng.choice(["24.0", "28.0", "30.0"])
                    employees.append(
                        {
                            "employee_id": employee_id,
                            "first_name": first,
                            "last_name": last,
                            "email": email,
                            "entity_id": entity_id,
                            "department": department,
                            "team": team + suffix_team,
                            "manager_id": "" if is_lead else lead_id,
                            "job_title": lead_title if is_lead else rng.choice(titles),
                            "hire_date": hire.isoformat(),
                            "hourly_rate": money(cents),
                            "weekly_contract_hours": contract,
                        }
                    )
    return employees


def renumber(employee_id: str, offset: int) -> str:
    return f"E{int(employee_id[1:]) + offset:05d}" if employee_id else ""


def write_employees(path: Path, count: int) -> dict[str, np.ndarray]:
    """Write `count` employees; return what the records need of the staff (leads declare nothing)."""
    used: dict[tuple[str, str], int] = {}
    staff = {"number": [], "entity": [], "department": [], "manager": [], "hire": []}
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(sample.EMPLOYEE_COLUMNS)
        written, copy = 0, 0
        while written < count:
            clean = organisation_copy(copy, used)
            offset = copy * SAMPLE_EMPLOYEES
            rows = sample.dirty_employee_rows(clean)[: count - written]
            for clean_row, row in zip(clean, rows, strict=False):  # rows may stop short of clean
                row["employee_id"] = renumber(row["employee_id"], offset)
                row["manager_id"] = renumber(row["manager_id"], offset)
                writer.writerow([row[c] for c in sample.EMPLOYEE_COLUMNS])
                if row["manager_id"]:  # the clean master, as the time-tracking tool knows it
                    staff["number"].append(int(row["employee_id"][1:]))
                    staff["entity"].append(ENTITY_IDS.index(clean_row["entity_id"]))
                    staff["department"].append(DEPARTMENTS.index(clean_row["department"]))
                    staff["manager"].append(int(row["manager_id"][1:]))
                    staff["hire"].append(date.fromisoformat(clean_row["hire_date"]).toordinal())
            written += len(rows)
            copy += 1
    return {k: np.array(v, dtype=np.int64) for k, v in staff.items()}


# --------------------------------------------------------------------------------------
# Overtime records
# --------------------------------------------------------------------------------------


class Model:
    """The sample's probability of an overtime declaration per staff member and day."""

    def __init__(self, staff: dict[str, np.ndarray], seed: int) -> None:
        self.staff = staff
        self.days = list(sample.days(sample.PERIOD_START, sample.PERIOD_END))
        rng = np.random.default_rng([seed, 1])
        self.propensity = rng.uniform(0.35, 1.75, size=len(staff["number"]))
        self.department_rate = np.array([sample.DEPARTMENTS[d][1] for d in DEPARTMENTS])[staff["department"]]
        self.finance = staff["department"] == DEPARTMENTS.index("Finance")
        self.sales = staff["department"] == DEPARTMENTS.index("Sales")
        self.shift = np.isin(staff["department"], [DEPARTMENTS.index(d) for d in sample.SHIFT_DEPARTMENTS])
        country = {e[0]: e[2] for e in sample.ENTITIES}
        holidays = {c: {date.fromisoformat(d) for d in ds} for c, ds in sample.PUBLIC_HOLIDAYS.items()}
        self.holiday_of_entity = {day: np.array([day in holidays[country[e]] for e in ENTITY_IDS]) for day in self.days}
        self.scale = 1.0

    def probability(self, day: date) -> np.ndarray:
        staff = self.staff
        base = self.department_rate * sample.SEASONALITY[day.month] * self.propensity
        if day.day >= 24 or day.day <= 3:
            closing_month = day.month if day.day >= 24 else (day - timedelta(days=5)).month
            base = np.where(self.finance, base * sample.FINANCE_CLOSING_BOOST.get(closing_month, 1.3), base)
        if day.month in (6, 12):
            base = np.where(self.sales, base * 1.6, base)
        holiday = self.holiday_of_entity[day][staff["entity"]]
        weekend = day.weekday() >= 5
        off = holiday | weekend
        base = np.where(off & ~self.shift, 0.0, base)
        base = np.where(holiday, base * 0.45, np.where(weekend, base * 0.22, base))
        base = np.where(staff["hire"] > day.toordinal(), 0.0, base)
        return base * self.scale

    def drawn(self, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Who declares overtime that day (before the count is adjusted), and who else could have."""
        p = self.probability(self.days[index])
        u = np.random.default_rng([seed, 2, index]).random(len(p))
        return u < p, (p > 0) & (u >= p)


def duplicates_within(records: int) -> int:
    """Duplicate rows the dirty blocks append for `records` records."""
    return sum(max(0, (records - k) // BLOCK + 1) for k in (RESUBMITTED, EXPORTED_TWICE) if records >= k)


def records_for(rows: int) -> int:
    """Records to generate so that they and their duplicates make `rows` data rows (or one fewer
    duplicate than the blocks hold, where one more record would add two rows)."""
    records = rows
    while records + duplicates_within(records) > rows:
        records -= 1
    if records + duplicates_within(records) < rows:
        records += 1
    return records


def chosen_positions(total: int, wanted: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(total, size=wanted, replace=False)) if wanted > 0 else np.empty(0, dtype=np.int64)


def write_records(path: Path, staff: dict[str, np.ndarray], rows: int, seed: int, employees: int) -> dict[str, int]:
    model = Model(staff, seed)
    records = records_for(rows)
    if records > MAX_RECORD_ID:
        raise SystemExit(f"{rows} rows need record ids beyond OT{MAX_RECORD_ID}: at most ~9,998,000 rows")
    expected = sum(float(model.probability(day).sum()) for day in model.days)
    model.scale = records / expected
    # Pass 1: how many the draws give, and how many more could have declared; then exactly `records`.
    counts = [(int(s.sum()), int(c.sum())) for s, c in (model.drawn(i, seed) for i in range(len(model.days)))]
    drawn, candidates = sum(c[0] for c in counts), sum(c[1] for c in counts)
    adjust = np.random.default_rng([seed, 3])
    dropped = chosen_positions(drawn, drawn - records, adjust)
    added = chosen_positions(candidates, records - drawn, adjust)

    unknown_employee = "E09999" if employees < 9999 else f"E{employees + 9999:05d}"
    dirty_at = sorted(b * BLOCK + k for b in range(records // BLOCK + 1) for k in DIRTY if b * BLOCK + k <= records)
    employee_text = np.array([f"E{n:05d}" for n in staff["number"]], dtype=object)
    manager_text = np.array([f"E{n:05d}" for n in staff["manager"]], dtype=object)
    last_day = len(model.days) - 1
    date_text = [(sample.PERIOD_START + timedelta(days=i)).isoformat() for i in range(last_day + 10)]
    appended: list[str] = []
    number = 0  # record ids are given in (day, employee) order, as in the sample
    seen_drawn = seen_candidates = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(sample.RECORD_COLUMNS) + "\n")
        for index, day in enumerate(model.days):
            selected, candidate = model.drawn(index, seed)
            chosen = np.flatnonzero(selected)
            lo, hi = np.searchsorted(dropped, [seen_drawn, seen_drawn + len(chosen)])
            if hi > lo:
                chosen = np.delete(chosen, dropped[lo:hi] - seen_drawn)
            seen_drawn += int(selected.sum())
            others = np.flatnonzero(candidate)
            lo, hi = np.searchsorted(added, [seen_candidates, seen_candidates + len(others)])
            if hi > lo:
                chosen = np.sort(np.concatenate([chosen, others[added[lo:hi] - seen_candidates]]))
            seen_candidates += len(others)
            if not len(chosen):
                continue
            lines = day_records(model, index, day, chosen, number, seed, employee_text, manager_text, date_text)
            first, number = number + 1, number + len(chosen)
            for at in dirty_at[bisect.bisect_left(dirty_at, first) : bisect.bisect_right(dirty_at, number)]:
                lines[at - first], extra = dirty(lines[at - first], (at - 1) % BLOCK + 1, unknown_employee)
                appended.extend(extra)
            handle.write("\n".join(lines) + "\n")
        kept = appended[: rows - number]  # where one more record would add two duplicates, one is left out
        handle.writelines(kept)
    return {"records": number, "duplicates": len(kept), "rows": number + len(kept)}


def day_records(
    model: Model,
    index: int,
    day: date,
    chosen: np.ndarray,
    before: int,
    seed: int,
    employee_text: np.ndarray,
    manager_text: np.ndarray,
    date_text: list[str],
) -> list[str]:
    """The CSV lines of one day's records: reason, hours, submission and approval as the sample draws them."""
    rng = np.random.default_rng([seed, 4, index])
    n = len(chosen)
    staff = model.staff
    department = staff["department"][chosen]
    holiday = model.holiday_of_entity[day][staff["entity"][chosen]]
    weekend = day.weekday() >= 5
    d = {name: DEPARTMENTS.index(name) for name in DEPARTMENTS}
    draw, weekend_draw = rng.random(n), rng.random(n)
    incident_q, weekend_q, night_q = rng.integers(4, 25, n), rng.integers(12, 41, n), rng.integers(8, 33, n)
    holiday_q, recup_q = rng.integers(16, 41, n), rng.integers(2, 13, n)
    train_q = rng.choice(np.array([4, 6, 8, 12, 14, 16]), n)
    peak_q = np.minimum(rng.integers(2, 11, n), rng.integers(2, 17, n))
    night_ok = (department == d["Operations"]) | (department == d["Logistics"])
    incident_ok = (
        (department == d["Operations"]) | (department == d["Engineering"]) | (department == d["Customer Service"])
    )
    # reason codes: 0 HOLI, 1 INCID, 2 WKND, 3 NIGHT, 4 TRAIN, 5 RECUP, 6 PEAK
    if weekend:
        weekday_reason = np.where((department == d["Engineering"]) | (weekend_draw < 0.15), 1, 2)
    else:
        weekday_reason = np.select(
            [night_ok & (draw < 0.12), incident_ok & (draw < 0.22), draw < 0.30, draw < 0.45], [3, 1, 4, 5], 6
        )
    reason = np.where(holiday, 0, weekday_reason)
    quarters = np.choose(reason, [holiday_q, incident_q, weekend_q, night_q, train_q, recup_q, peak_q])
    reasons = ["HOLI", "INCID", "WKND", "NIGHT", "TRAIN", "RECUP", "PEAK"]
    delay = rng.choice(np.array([0, 1, 2, 3, 5, 8]), n, p=[0.35, 0.30, 0.15, 0.10, 0.07, 0.03])
    hour, minute, second = rng.integers(7, 20, n), rng.integers(0, 60, n), rng.integers(0, 60, n)
    pending_share = 0.45 if day >= sample.PERIOD_END - timedelta(days=12) else 0.04
    status_draw = rng.random(n)
    pending = status_draw < pending_share
    rejected = ~pending & (status_draw < pending_share + 0.04)
    status = np.where(pending, "pending", np.where(rejected, "rejected", "approved"))
    approver = np.where(pending, "", manager_text[chosen])
    work = date_text[index]
    return [
        f"OT{before + i + 1:07d},{e},{work},{QUARTER_TEXT[q]},{reasons[r]},{s},{a},"
        f"{date_text[index + dl]}T{TWO_DIGITS[h]}:{TWO_DIGITS[m]}:{TWO_DIGITS[sc]}"
        for i, (e, q, r, s, a, dl, h, m, sc) in enumerate(
            zip(
                employee_text[chosen].tolist(),
                quarters.tolist(),
                reason.tolist(),
                status.tolist(),
                approver.tolist(),
                delay.tolist(),
                hour.tolist(),
                minute.tolist(),
                second.tolist(),
                strict=True,
            )
        )
    ]


def dirty(line: str, position: int, unknown_employee: str) -> tuple[str, list[str]]:
    """One record made dirty as the sample's record OT<position> is; returns the line and the
    duplicate rows it adds at the end of the file."""
    r = dict(zip(sample.RECORD_COLUMNS, line.split(","), strict=True))
    extra: list[dict[str, str]] = []
    if position == 315:
        r["reason_code"] = r["reason_code"].lower()
    elif position == 1207:
        r["reason_code"] = f"  {r['reason_code']} "
    elif position == 2450:
        r["reason_code"] = " " + r["reason_code"].lower()
    elif position in (3333, 4781):
        r["hours"] = r["hours"].replace(".", ",")
    elif position == 877:
        r["hours"] = "-2.00"
    elif position == 1999:
        r["hours"] = "18.50"
    elif position == 5050:
        r["hours"] = "24.00"
    elif position == 2718:
        r["employee_id"] = unknown_employee
    elif position == 3141:
        r["work_date"] = ""
    elif position == 6001:
        r["work_date"] = "2026-02-30"
    elif position == 4096:
        r["reason_code"] = "ONCALL"
    elif position == RESUBMITTED:
        again = dict(r)
        again["hours"] = sample._hours(int(Decimal(r["hours"]) * 4) + 2)
        again["submitted_at"] = (datetime.fromisoformat(r["submitted_at"]) + timedelta(days=2, hours=1)).isoformat(
            timespec="seconds"
        )
        extra.append(again)
    elif position == EXPORTED_TWICE:
        extra.append(dict(r))
    return csv_line([r[c] for c in sample.RECORD_COLUMNS]).rstrip("\n"), [
        csv_line([e[c] for c in sample.RECORD_COLUMNS]) for e in extra
    ]


# --------------------------------------------------------------------------------------


def generate(rows: int, out: Path, seed: int = sample.SEED) -> dict[str, object]:
    if rows < 1000:
        raise SystemExit("--rows must be at least 1000 (the product's row_count rules)")
    out.mkdir(parents=True, exist_ok=True)
    employees = max(SAMPLE_EMPLOYEES // 10, round(rows * SAMPLE_EMPLOYEES / SAMPLE_ROWS))
    write_csv(
        out / "entities.csv",
        ["entity_id", "entity_name", "country", "currency"],
        [list(e[:4]) for e in sorted(sample.ENTITIES)],
    )
    write_csv(
        out / "overtime_reasons.csv",
        ["reason_code", "label", "category", "rate_multiplier", "is_compensable"],
        [list(r) for r in sample.OVERTIME_REASONS],
    )
    staff = write_employees(out / "employees.csv", employees)
    counts = write_records(out / "overtime_records.csv", staff, rows, seed, employees)
    return {"employees": employees, "staff": len(staff["number"]), **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=SAMPLE_ROWS, help="data rows of overtime_records.csv")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the four CSV files into")
    parser.add_argument("--seed", type=int, default=sample.SEED)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    started = time.perf_counter()
    result = generate(arguments.rows, arguments.out, arguments.seed)
    result["seconds"] = round(time.perf_counter() - started, 2)
    print(
        json.dumps(result)
        if arguments.json
        else f"{arguments.out}: {result['rows']} overtime rows ({result['records']} records, {result['duplicates']} "
        f"duplicates), {result['employees']} employees, in {result['seconds']} s"
    )


if __name__ == "__main__":
    main()
