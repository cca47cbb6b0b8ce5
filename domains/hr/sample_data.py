"""Deterministic sample sources for the HR Overtime data product.

Writes four CSV extracts into ``domains/hr/data/`` as an HR information system and a
time-tracking tool would export them:

- ``entities.csv``          the group's legal entities
- ``employees.csv``         the employee master (a few rows badly typed in, but cleanable)
- ``overtime_reasons.csv``  the overtime reason codes and their pay multipliers
- ``overtime_records.csv``  13 months of overtime declarations (2025-10-01 .. 2026-10-31),
                            with a few dirty rows that silver must clean or reject

Every run writes byte-for-byte identical files: fixed seeds (one per source, so changing
one generator does not reshuffle the others), no clock, ``\\n`` line endings, stable order.

    python -m domains.hr.sample_data [OUT_DIR]
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from platform_core.scaffold.sample_data import days, money, run_generator, write_csv

SEED = 20251001
DATA_DIR = Path(__file__).resolve().parent / "data"

PERIOD_START = date(2025, 10, 1)
PERIOD_END = date(2026, 10, 31)
# Employees hired after this date only declare overtime from their hire date on.
BASELINE_HIRE_LIMIT = date(2025, 9, 30)

# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------

ENTITIES = [
    # entity_id, entity_name, country (ISO 3166-1 alpha-2), currency (ISO 4217), e-mail domain
    ("DE01", "Northwind Logistik GmbH (Berlin)", "DE", "EUR", "northwind-group.de"),
    ("ES01", "Northwind Logística S.L. (Madrid)", "ES", "EUR", "northwind-group.es"),
    ("FR01", "Northwind Logistique SAS (Paris)", "FR", "EUR", "northwind-group.fr"),
    ("GB01", "Northwind Logistics Ltd (London)", "GB", "GBP", "northwind-group.co.uk"),
]

WEEKLY_CONTRACT_HOURS = {"FR01": "35.0", "DE01": "40.0", "GB01": "37.5", "ES01": "40.0"}

OVERTIME_REASONS = [
    # reason_code, label, category, rate_multiplier, is_compensable
    ("PEAK", "Peak activity", "activity", "1.25", "true"),
    ("INCID", "Incident or on-call intervention", "activity", "1.50", "true"),
    ("NIGHT", "Night shift", "schedule", "1.25", "true"),
    ("WKND", "Weekend work", "schedule", "1.50", "true"),
    ("HOLI", "Public holiday work", "schedule", "2.00", "true"),
    ("TRAIN", "Training outside working hours", "training", "1.00", "true"),
    # Hours banked as time off in lieu: recorded for the hours balance, never paid.
    ("RECUP", "Time off in lieu (not paid)", "time_off_in_lieu", "0.00", "false"),
]

# department -> (teams, weekday overtime propensity, hourly rate range in cents, member titles, lead title)
DEPARTMENTS = {
    "Operations": (
        ["Site Operations", "Maintenance", "Quality Control"],
        0.145,
        (1850, 2900),
        ["Operator", "Senior Operator", "Maintenance Technician"],
        "Operations Team Lead",
    ),
    "Logistics": (
        ["Inbound", "Outbound", "Transport Planning"],
        0.160,
        (1850, 2600),
        ["Warehouse Associate", "Forklift Driver", "Logistics Coordinator"],
        "Logistics Team Lead",
    ),
    "Customer Service": (
        ["Support Level 1", "Support Level 2", "Claims"],
        0.105,
        (1900, 2800),
        ["Customer Service Agent", "Senior Customer Service Agent"],
        "Customer Service Team Lead",
    ),
    "Engineering": (
        ["Platform", "Applications", "Infrastructure"],
        0.080,
        (3500, 6500),
        ["Software Engineer", "Senior Software Engineer", "Site Reliability Engineer"],
        "Engineering Manager",
    ),
    "Finance": (
        ["Accounting", "Controlling"],
        0.060,
        (2800, 5200),
        ["Accountant", "Financial Controller", "Accounts Payable Clerk"],
        "Finance Team Lead",
    ),
    "Sales": (
        ["Key Accounts", "Inside Sales"],
        0.065,
        (2400, 4500),
        ["Account Manager", "Sales Representative"],
        "Sales Team Lead",
    ),
}

# Team sizes (lead included) per entity and department; the first teams of the department's
# list are used. Fixed rather than drawn so that the head count stays stable (350 employees).
TEAM_SIZES = {
    "DE01": {
        "Operations": [13, 9],
        "Logistics": [15, 10],
        "Customer Service": [9],
        "Engineering": [8, 6, 7],
        "Finance": [7],
        "Sales": [8],
    },
    "ES01": {
        "Operations": [11, 7],
        "Logistics": [13, 8],
        "Customer Service": [10, 6],
        "Engineering": [7],
        "Finance": [6],
        "Sales": [7],
    },
    "FR01": {
        "Operations": [12, 8],
        "Logistics": [14, 11],
        "Customer Service": [10, 7],
        "Engineering": [9, 7],
        "Finance": [8],
        "Sales": [7],
    },
    "GB01": {
        "Operations": [10],
        "Logistics": [12, 9],
        "Customer Service": [12, 8],
        "Engineering": [10, 8],
        "Finance": [6],
        "Sales": [9, 6],
    },
}

FIRST_NAMES = {
    "FR01": [
        "Camille",
        "Léa",
        "Manon",
        "Chloé",
        "Inès",
        "Sarah",
        "Julie",
        "Marie",
        "Emma",
        "Claire",
        "Lucas",
        "Hugo",
        "Thomas",
        "Nicolas",
        "Julien",
        "Antoine",
        "Mathieu",
        "Maxime",
        "Karim",
        "Olivier",
    ],
    "DE01": [
        "Anna",
        "Lena",
        "Laura",
        "Julia",
        "Sophie",
        "Katharina",
        "Sabine",
        "Petra",
        "Miriam",
        "Jana",
        "Lukas",
        "Jonas",
        "Felix",
        "Tobias",
        "Stefan",
        "Michael",
        "Andreas",
        "Jan",
        "Florian",
        "Mehmet",
    ],
    "GB01": [
        "Olivia",
        "Amelia",
        "Emily",
        "Charlotte",
        "Grace",
        "Hannah",
        "Jessica",
        "Priya",
        "Chloe",
        "Lucy",
        "Oliver",
        "Harry",
        "George",
        "James",
        "Jack",
        "William",
        "Daniel",
        "Samuel",
        "Thomas",
        "Ravi",
    ],
    "ES01": [
        "Lucía",
        "María",
        "Paula",
        "Laura",
        "Carmen",
        "Elena",
        "Marta",
        "Sara",
        "Ana",
        "Cristina",
        "Javier",
        "Daniel",
        "Alejandro",
        "David",
        "Pablo",
        "Sergio",
        "Carlos",
        "Miguel",
        "Jorge",
        "Adrián",
    ],
}

LAST_NAMES = {
    "FR01": [
        "Martin",
        "Bernard",
        "Dubois",
        "Thomas",
        "Robert",
        "Richard",
        "Petit",
        "Durand",
        "Leroy",
        "Moreau",
        "Simon",
        "Laurent",
        "Lefebvre",
        "Michel",
        "Garcia",
        "David",
        "Bertrand",
        "Roux",
        "Vincent",
        "Fournier",
        "Morel",
        "Girard",
        "André",
        "Mercier",
        "Dupont",
        "Lambert",
        "Bonnet",
        "François",
        "Martinez",
        "Benali",
    ],
    "DE01": [
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Bauer",
        "Richter",
        "Klein",
        "Wolf",
        "Schröder",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Braun",
        "Krüger",
        "Hofmann",
        "Hartmann",
        "Lange",
        "Schmitt",
        "Werner",
        "Krause",
        "Yilmaz",
        "Lehmann",
    ],
    "GB01": [
        "Smith",
        "Jones",
        "Taylor",
        "Brown",
        "Williams",
        "Wilson",
        "Johnson",
        "Davies",
        "Robinson",
        "Wright",
        "Thompson",
        "Evans",
        "Walker",
        "White",
        "Roberts",
        "Green",
        "Hall",
        "Wood",
        "Jackson",
        "Clarke",
        "Patel",
        "Khan",
        "Lewis",
        "Harris",
        "Cooper",
        "King",
        "Baker",
        "Turner",
        "Hughes",
        "Edwards",
    ],
    "ES01": [
        "García",
        "Rodríguez",
        "González",
        "Fernández",
        "López",
        "Martínez",
        "Sánchez",
        "Pérez",
        "Gómez",
        "Martín",
        "Jiménez",
        "Ruiz",
        "Hernández",
        "Díaz",
        "Moreno",
        "Muñoz",
        "Álvarez",
        "Romero",
        "Alonso",
        "Gutiérrez",
        "Navarro",
        "Torres",
        "Domínguez",
        "Vázquez",
        "Ramos",
        "Gil",
        "Ramírez",
        "Serrano",
        "Blanco",
        "Molina",
    ],
}

# A handful of public holidays per country that fall in the period (Berlin and Madrid regional ones included).
PUBLIC_HOLIDAYS = {
    "FR": [
        "2025-11-01",
        "2025-11-11",
        "2025-12-25",
        "2026-01-01",
        "2026-04-06",
        "2026-05-01",
        "2026-05-08",
        "2026-05-14",
        "2026-05-25",
        "2026-07-14",
        "2026-08-15",
    ],
    "DE": [
        "2025-10-03",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-01",
        "2026-05-14",
        "2026-05-25",
        "2026-10-03",
    ],
    "GB": [
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
    ],
    "ES": [
        "2025-10-12",
        "2025-11-01",
        "2025-12-06",
        "2025-12-08",
        "2025-12-25",
        "2026-01-01",
        "2026-01-06",
        "2026-04-02",
        "2026-04-03",
        "2026-05-01",
        "2026-05-15",
        "2026-08-15",
        "2026-10-12",
    ],
}

# Activity level per month: year-end peak in November/December, summer dip in July/August.
SEASONALITY = {
    1: 0.95,
    2: 0.85,
    3: 0.95,
    4: 0.90,
    5: 0.85,
    6: 1.00,
    7: 0.70,
    8: 0.55,
    9: 1.00,
    10: 1.00,
    11: 1.30,
    12: 1.45,
}
# Finance closes the books at month end, much more at year end.
FINANCE_CLOSING_BOOST = {12: 2.0, 1: 2.2, 6: 1.5}
# Departments that work on weekends and public holidays (shifts, on-call).
SHIFT_DEPARTMENTS = {"Operations", "Logistics", "Customer Service", "Engineering"}

# --------------------------------------------------------------------------------------
# Dirty rows: documented here, injected deterministically, checked by the product's tests
# --------------------------------------------------------------------------------------

# Employee master rows typed in by hand: silver (transforms.clean_employees) must clean them.
DIRTY_EMPLOYEES = [
    {
        "employee_id": "E00007",
        "problem": "first_name with surrounding spaces, last_name upper case",
        "expected": "cleaned",
    },
    {"employee_id": "E00042", "problem": "e-mail in upper case", "expected": "cleaned"},
    {"employee_id": "E00105", "problem": "hourly_rate with a comma decimal separator", "expected": "cleaned"},
    {"employee_id": "E00188", "problem": "names in lower case with stray spaces", "expected": "cleaned"},
    {
        "employee_id": "E00251",
        "problem": "hourly_rate with a comma decimal and e-mail in mixed case",
        "expected": "cleaned",
    },
]

# Overtime records that silver must clean (still valid) or reject (with rejection_reason).
DIRTY_RECORDS = [
    # cleaned: the record stays valid once normalised
    {"record_id": "OT0000315", "problem": "reason_code in lower case", "expected": "cleaned"},
    {"record_id": "OT0001207", "problem": "reason_code with surrounding spaces", "expected": "cleaned"},
    {"record_id": "OT0002450", "problem": "reason_code lower case with a leading space", "expected": "cleaned"},
    {"record_id": "OT0003333", "problem": "hours with a comma decimal separator", "expected": "cleaned"},
    {"record_id": "OT0004781", "problem": "hours with a comma decimal separator", "expected": "cleaned"},
    # rejected: silver keeps them in overtime_rejected with the reason
    {
        "record_id": "OT0000877",
        "problem": "negative hours",
        "expected": "rejected",
        "rejection_reason": "negative_hours",
    },
    {
        "record_id": "OT0001999",
        "problem": "hours above 16 (18.50)",
        "expected": "rejected",
        "rejection_reason": "hours_above_16",
    },
    {
        "record_id": "OT0005050",
        "problem": "hours above 16 (24.00, a full day typed as hours)",
        "expected": "rejected",
        "rejection_reason": "hours_above_16",
    },
    {
        "record_id": "OT0002718",
        "problem": "unknown employee_id E09999",
        "expected": "rejected",
        "rejection_reason": "unknown_employee",
    },
    {
        "record_id": "OT0003141",
        "problem": "missing work_date",
        "expected": "rejected",
        "rejection_reason": "invalid_work_date",
    },
    {
        "record_id": "OT0006001",
        "problem": "unparseable work_date 2026-02-30",
        "expected": "rejected",
        "rejection_reason": "invalid_work_date",
    },
    {
        "record_id": "OT0004096",
        "problem": "unknown reason_code ONCALL (retired code)",
        "expected": "rejected",
        "rejection_reason": "unknown_reason",
    },
    # duplicates: the record appears twice in the extract; silver keeps the latest submission
    # (latest submitted_at, then the last row of the file) and rejects the other one
    {
        "record_id": "OT0005555",
        "problem": "re-submitted with corrected hours and a later submitted_at; the first submission is rejected",
        "expected": "rejected",
        "rejection_reason": "duplicate_record",
    },
    {
        "record_id": "OT0007007",
        "problem": "exported twice, identical rows; the first row is rejected",
        "expected": "rejected",
        "rejection_reason": "duplicate_record",
    },
]

EMPLOYEE_COLUMNS = [
    "employee_id",
    "first_name",
    "last_name",
    "email",
    "entity_id",
    "department",
    "team",
    "manager_id",
    "job_title",
    "hire_date",
    "hourly_rate",
    "weekly_contract_hours",
]
RECORD_COLUMNS = [
    "record_id",
    "employee_id",
    "work_date",
    "hours",
    "reason_code",
    "status",
    "approved_by",
    "submitted_at",
]


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _rng(part: str) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so they do not depend on PYTHONHASHSEED.
    return random.Random(f"{SEED}-{part}")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _hours(quarters: int) -> str:
    return str((Decimal(quarters) / 4).quantize(Decimal("0.01")))


# --------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------


def build_employees() -> list[dict[str, str]]:
    """The employee master: teams of 6-15 people, each with a lead who has no manager."""
    rng = _rng("employees")
    employees: list[dict[str, str]] = []
    used_emails: set[str] = set()
    number = 0
    for entity_id, _name, _country, _currency, mail_domain in sorted(ENTITIES):
        for department, (teams, _propensity, (low, high), titles, lead_title) in DEPARTMENTS.items():
            # an entity staffs the first teams of a department, as many as it lists sizes for
            for team, size in zip(teams, TEAM_SIZES[entity_id][department], strict=False):
                lead_id = ""  # set at position 0, the team lead, before any member who reports to it
                for position in range(size):
                    number += 1
                    employee_id = f"E{number:05d}"
                    first = rng.choice(FIRST_NAMES[entity_id])
                    last = rng.choice(LAST_NAMES[entity_id])
                    local = f"{_ascii(first)}.{_ascii(last)}".lower().replace(" ", "-")
                    email, suffix = f"{local}@{mail_domain}", 2
                    while email in used_emails:
                        email, suffix = f"{local}{suffix}@{mail_domain}", suffix + 1
                    used_emails.add(email)
                    is_lead = position == 0
                    if is_lead:
                        lead_id = employee_id
                        hire = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 15 * 365))
                        cents = min(7500, int(rng.randint(low, high) * 1.2))
                    else:
                        # about 4% joined during the period: they declare overtime from their hire date on
                        if rng.random() < 0.04:
                            hire = PERIOD_START + timedelta(days=rng.randrange(15, 300))
                        else:
                            hire = date(2012, 1, 1) + timedelta(days=rng.randrange(0, 13 * 365 + 200))
                            hire = min(hire, BASELINE_HIRE_LIMIT)
                        cents = rng.randint(low, high)
                    contract = WEEKLY_CONTRACT_HOURS[entity_id]
                    if not is_lead and rng.random() < 0.06:
                        contract = rng.choice(["24.0", "28.0", "30.0"])  # part-time
                    employees.append(
                        {
                            "employee_id": employee_id,
                            "first_name": first,
                            "last_name": last,
                            "email": email,
                            "entity_id": entity_id,
                            "department": department,
                            "team": team,
                            "manager_id": "" if is_lead else lead_id,
                            "job_title": lead_title if is_lead else rng.choice(titles),
                            "hire_date": hire.isoformat(),
                            "hourly_rate": money(cents),
                            "weekly_contract_hours": contract,
                        }
                    )
    return employees


def dirty_employee_rows(employees: list[dict[str, str]]) -> list[dict[str, str]]:
    """Apply the DIRTY_EMPLOYEES defects (on copies, the clean master is kept for the records)."""
    rows = [dict(e) for e in employees]
    by_id = {r["employee_id"]: r for r in rows}
    e = by_id["E00007"]
    e["first_name"], e["last_name"] = f"  {e['first_name']} ", e["last_name"].upper()
    by_id["E00042"]["email"] = by_id["E00042"]["email"].upper()
    by_id["E00105"]["hourly_rate"] = by_id["E00105"]["hourly_rate"].replace(".", ",")
    e = by_id["E00188"]
    e["first_name"], e["last_name"] = f"{e['first_name'].lower()}  ", f" {e['last_name'].lower()}"
    e = by_id["E00251"]
    e["hourly_rate"] = e["hourly_rate"].replace(".", ",")
    e["email"] = e["email"][:4].upper() + e["email"][4:]
    return rows


def build_records(employees: list[dict[str, str]]) -> list[dict[str, str]]:
    """Overtime declarations, one per employee and day at most, before dirty rows are injected."""
    rng = _rng("records")
    country = {entity_id: c for entity_id, _n, c, _cur, _d in ENTITIES}
    holidays = {c: {date.fromisoformat(d) for d in days} for c, days in PUBLIC_HOLIDAYS.items()}
    # Team leads are on a fixed-days management contract: they do not declare overtime.
    staff = [e for e in employees if e["manager_id"]]
    propensity = {e["employee_id"]: rng.uniform(0.35, 1.75) for e in staff}
    declared: list[tuple[date, dict[str, str], str, int]] = []
    for day in days(PERIOD_START, PERIOD_END):
        season = SEASONALITY[day.month]
        weekend = day.weekday() >= 5
        for e in staff:
            if date.fromisoformat(e["hire_date"]) > day:
                continue
            department = e["department"]
            base = DEPARTMENTS[department][1] * season * propensity[e["employee_id"]]
            if department == "Finance" and (day.day >= 24 or day.day <= 3):
                # closing of the month that ends around this day
                closing_month = day.month if day.day >= 24 else (day - timedelta(days=5)).month
                base *= FINANCE_CLOSING_BOOST.get(closing_month, 1.3)
            if department == "Sales" and day.month in (6, 12):
                base *= 1.6  # half-year and year-end deal closing
            is_holiday = day in holidays[country[e["entity_id"]]]
            if is_holiday or weekend:
                if department not in SHIFT_DEPARTMENTS:
                    continue
                base *= 0.45 if is_holiday else 0.22
            if rng.random() >= base:
                continue
            if is_holiday:
                reason, quarters = "HOLI", rng.randint(16, 40)  # 4h .. 10h
            elif weekend:
                if department == "Engineering" or rng.random() < 0.15:
                    reason, quarters = "INCID", rng.randint(4, 24)  # 1h .. 6h
                else:
                    reason, quarters = "WKND", rng.randint(12, 40)  # 3h .. 10h
            else:
                draw = rng.random()
                night_ok = department in ("Operations", "Logistics")
                incident_ok = department in ("Operations", "Engineering", "Customer Service")
                if night_ok and draw < 0.12:
                    reason, quarters = "NIGHT", rng.randint(8, 32)  # 2h .. 8h
                elif incident_ok and draw < 0.22:
                    reason, quarters = "INCID", rng.randint(4, 24)
                elif draw < 0.30:
                    reason, quarters = "TRAIN", rng.choice([4, 6, 8, 12, 14, 16])
                elif draw < 0.45:
                    reason, quarters = "RECUP", rng.randint(2, 12)  # 0.5h .. 3h
                else:
                    # most peak-activity overtime is 0.5h .. 4h, skewed towards 1-2.5h
                    reason, quarters = "PEAK", min(rng.randint(2, 10), rng.randint(2, 16))
            declared.append((day, e, reason, quarters))

    declared.sort(key=lambda d: (d[0], d[1]["employee_id"]))
    records = []
    for index, (day, e, reason, quarters) in enumerate(declared, start=1):
        delay = rng.choices([0, 1, 2, 3, 5, 8], weights=[35, 30, 15, 10, 7, 3])[0]
        submitted = datetime.combine(
            day + timedelta(days=delay), time(rng.randint(7, 19), rng.randint(0, 59), rng.randint(0, 59))
        )
        # recent declarations are still waiting for their manager
        pending_share = 0.45 if day >= PERIOD_END - timedelta(days=12) else 0.04
        draw = rng.random()
        status = "pending" if draw < pending_share else ("rejected" if draw < pending_share + 0.04 else "approved")
        records.append(
            {
                "record_id": f"OT{index:07d}",
                "employee_id": e["employee_id"],
                "work_date": day.isoformat(),
                "hours": _hours(quarters),
                "reason_code": reason,
                "status": status,
                "approved_by": "" if status == "pending" else e["manager_id"],
                "submitted_at": submitted.isoformat(timespec="seconds"),
            }
        )
    return records


def inject_dirty_records(records: list[dict[str, str]]) -> list[dict[str, str]]:
    """Apply DIRTY_RECORDS to copies of the clean records; duplicates are appended at the end."""
    rows = [dict(r) for r in records]
    by_id = {r["record_id"]: r for r in rows}
    missing = [d["record_id"] for d in DIRTY_RECORDS if d["record_id"] not in by_id]
    if missing:
        raise RuntimeError(f"dirty record ids not generated: {missing}")

    by_id["OT0000315"]["reason_code"] = by_id["OT0000315"]["reason_code"].lower()
    by_id["OT0001207"]["reason_code"] = f"  {by_id['OT0001207']['reason_code']} "
    by_id["OT0002450"]["reason_code"] = " " + by_id["OT0002450"]["reason_code"].lower()
    by_id["OT0003333"]["hours"] = by_id["OT0003333"]["hours"].replace(".", ",")
    by_id["OT0004781"]["hours"] = by_id["OT0004781"]["hours"].replace(".", ",")

    by_id["OT0000877"]["hours"] = "-2.00"
    by_id["OT0001999"]["hours"] = "18.50"
    by_id["OT0005050"]["hours"] = "24.00"
    by_id["OT0002718"]["employee_id"] = "E09999"
    by_id["OT0003141"]["work_date"] = ""
    by_id["OT0006001"]["work_date"] = "2026-02-30"
    by_id["OT0004096"]["reason_code"] = "ONCALL"

    # Re-submission: same record_id, corrected hours, submitted two days later.
    original = by_id["OT0005555"]
    resubmitted = dict(original)
    resubmitted["hours"] = _hours(int(Decimal(original["hours"]) * 4) + 2)
    resubmitted["submitted_at"] = (
        datetime.fromisoformat(original["submitted_at"]) + timedelta(days=2, hours=1)
    ).isoformat(timespec="seconds")
    # Double export: the very same row twice.
    exported_twice = dict(by_id["OT0007007"])
    return [*rows, resubmitted, exported_twice]


def generate(out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write the four CSV files into `out_dir`; returns the number of data rows per file."""
    out_dir = Path(out_dir)
    employees = build_employees()
    records = inject_dirty_records(build_records(employees))
    written = {
        "entities.csv": write_csv(
            out_dir / "entities.csv",
            ["entity_id", "entity_name", "country", "currency"],
            [list(e[:4]) for e in sorted(ENTITIES)],
        ),
        "employees.csv": write_csv(
            out_dir / "employees.csv",
            EMPLOYEE_COLUMNS,
            [[r[c] for c in EMPLOYEE_COLUMNS] for r in dirty_employee_rows(employees)],
        ),
        "overtime_reasons.csv": write_csv(
            out_dir / "overtime_reasons.csv",
            ["reason_code", "label", "category", "rate_multiplier", "is_compensable"],
            [list(r) for r in OVERTIME_REASONS],
        ),
        "overtime_records.csv": write_csv(
            out_dir / "overtime_records.csv", RECORD_COLUMNS, [[r[c] for c in RECORD_COLUMNS] for r in records]
        ),
    }
    return written


def main(argv: list[str] | None = None) -> None:
    run_generator(generate, DATA_DIR, argv)


if __name__ == "__main__":
    main()
