"""Every built-in rule, passing and failing, on both executors; and the two executors agree.

The same bad data goes to DuckDB (SQL executor) and to pandas (pandera executor). For each
rule the expected result is written down once and both executors must produce it, so a
semantic drift between them (nulls, composite keys, bounds) fails here.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pytest
from pydantic import TypeAdapter

from platform_core.descriptors.rules import RULES, Rule
from platform_core.quality.pandera_executor import run_pandera_rules
from platform_core.quality.results import RuleResult
from platform_core.quality.sql_executor import run_sql_rules
from tests.conftest import PROJECT

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# Shift records: two rows duplicate the composite key (E1, 202610), one hour value is out of
# range, one status is unknown, one employee is missing from the dimension, one row has nulls.
SHIFTS = pd.DataFrame(
    {
        "employee_id": ["E1", "E1", "E2", "E3", "E4", None, "E9"],
        "period_id": [202610, 202610, 202610, 202611, 202611, 202611, None],
        "hours": [2.0, 3.5, -1.0, 4.0, 17.0, 1.0, None],
        "rate": [20.0, 20.0, 25.0, 30.0, 30.0, 22.0, 10.0],
        "amount": [40.0, 70.0, -25.0, 120.0, 999.0, 22.0, None],
        "status": ["approved", "approved", "pending", "approved", "bogus", None, "rejected"],
        "loaded_at": pd.to_datetime(["2026-11-01 08:00"] * 6 + ["2026-10-01 08:00"]),
        "overtime": pd.array([True, False, True, True, False, None, True], dtype="boolean"),
        "work_date": [
            date(2026, 10, 5),
            date(2026, 10, 5),
            date(2026, 10, 6),
            date(2026, 11, 2),
            date(2026, 11, 2),
            None,
            date(2026, 11, 30),
        ],
    }
)
EMPLOYEES = pd.DataFrame({"employee_id": ["E1", "E2", "E3", "E4"]})
EVERYONE = pd.DataFrame({"employee_id": ["E1", "E2", "E3", "E4", "E9"]})
PORTS = {"dim_employee": EMPLOYEES, "all_employees": EVERYONE}

rule = TypeAdapter(Rule).validate_python

CASES = [
    # (rule, passed, failing_rows, observed subset)
    (rule({"type": "not_null", "column": "employee_id"}), False, 1, {}),
    (rule({"type": "not_null", "column": "rate"}), True, 0, {}),
    (rule({"type": "unique", "columns": ["employee_id", "period_id"]}), False, 2, {}),
    (rule({"type": "unique", "columns": ["employee_id", "hours"]}), True, 0, {}),
    (rule({"type": "unique", "columns": ["period_id"]}), False, 6, {}),
    (
        rule({"type": "accepted_values", "column": "status", "values": ["approved", "pending", "rejected"]}),
        False,
        1,
        {},
    ),
    (
        rule({"type": "accepted_values", "column": "status", "values": ["approved", "pending", "rejected", "bogus"]}),
        True,
        0,
        {},
    ),
    (rule({"type": "accepted_values", "column": "period_id", "values": [202610, 202611]}), True, 0, {}),
    # booleans and dates compare as DuckDB prints them, whichever executor runs
    (rule({"type": "accepted_values", "column": "overtime", "values": [True]}), False, 2, {}),
    (rule({"type": "accepted_values", "column": "overtime", "values": [True, False]}), True, 0, {}),
    (
        rule({"type": "accepted_values", "column": "work_date", "values": ["2026-10-05", "2026-10-06", "2026-11-02"]}),
        False,
        1,
        {},
    ),
    (
        rule(
            {
                "type": "accepted_values",
                "column": "work_date",
                "values": ["2026-10-05", "2026-10-06", "2026-11-02", "2026-11-30"],
            }
        ),
        True,
        0,
        {},
    ),
    # unquoted in YAML, a date is a date: it compares as its ISO text
    (
        rule(
            {
                "type": "accepted_values",
                "column": "work_date",
                "values": [date(2026, 10, 5), date(2026, 10, 6), date(2026, 11, 2), date(2026, 11, 30)],
            }
        ),
        True,
        0,
        {},
    ),
    (rule({"type": "range", "column": "hours", "min": 0, "max": 16}), False, 2, {}),
    (rule({"type": "range", "column": "hours", "max": 16}), False, 1, {}),
    (rule({"type": "range", "column": "rate", "min": 10, "max": 30}), True, 0, {}),
    (
        rule({"type": "relationships", "column": "employee_id", "to": "dim_employee", "field": "employee_id"}),
        False,
        1,
        {},
    ),
    (
        rule({"type": "relationships", "column": "employee_id", "to": "all_employees", "field": "employee_id"}),
        True,
        0,
        {},
    ),
    (rule({"type": "row_count", "min": 1, "max": 10}), True, 0, {"rows": 7}),
    (rule({"type": "row_count", "min": 100}), False, 0, {"rows": 7}),
    (rule({"type": "max_age", "column": "loaded_at", "max_age": "6h"}), True, 0, {"age_hours": 4.0}),
    (rule({"type": "max_age", "column": "loaded_at", "max_age": "2h"}), False, 0, {"age_hours": 4.0}),
    (
        rule({"type": "expression", "name": "amount_is_hours_times_rate", "expression": "amount = hours * rate"}),
        False,
        1,
        {},
    ),
    (rule({"type": "expression", "name": "rate_positive", "expression": "rate > 0"}), True, 0, {}),
]


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("shifts_frame", SHIFTS)
    con.execute('CREATE TABLE "shifts" AS SELECT * FROM shifts_frame')
    for name, frame in PORTS.items():
        con.register("frame", frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
        con.unregister("frame")
    return con


def _sql(rules: tuple[Rule, ...]) -> list[RuleResult]:
    return run_sql_rules(_connection(), '"shifts"', rules, lambda port: f'"{port}"', NOW)


def _ref_values(port: str, column: str) -> list:
    return list(PORTS[port][column])


def _pandas(rules: tuple[Rule, ...]) -> list[RuleResult]:
    return run_pandera_rules(SHIFTS.copy(), rules, _ref_values, NOW)


def _pandas_staged(rules: tuple[Rule, ...]) -> list[RuleResult]:
    """As the runner audits a pandas step: the staged table read back from DuckDB, with its types."""
    con = _connection()
    types = {name: kind for name, kind, *_ in con.execute('DESCRIBE "shifts"').fetchall()}
    assert types["work_date"] == "DATE" and types["overtime"] == "BOOLEAN"
    return run_pandera_rules(con.sql('SELECT * FROM "shifts"').df(), rules, _ref_values, NOW, types)


EXECUTORS = {"sql": _sql, "pandera": _pandas, "pandera_staged": _pandas_staged}


@pytest.mark.parametrize("executor", sorted(EXECUTORS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].check_name}-{'pass' if c[1] else 'fail'}")
def test_rule_on_each_executor(executor: str, case) -> None:
    declared, passed, failing, observed = case
    (result,) = EXECUTORS[executor]((declared,))
    assert (result.check_name, result.passed, result.failing_rows) == (declared.check_name, passed, failing)
    assert observed.items() <= result.observed.items()
    assert result.blocking == (not passed)  # every rule here has the default severity, error


@pytest.mark.parametrize("pandas_executor", [_pandas, _pandas_staged])
def test_executors_agree_on_the_whole_contract(pandas_executor) -> None:
    rules = tuple(case[0] for case in CASES)
    sql, pandas = _sql(rules), pandas_executor(rules)
    assert [(r.check_name, r.passed, r.failing_rows) for r in sql] == [
        (r.check_name, r.passed, r.failing_rows) for r in pandas
    ]


def test_every_builtin_rule_is_covered() -> None:
    assert {case[0].type for case in CASES} == set(RULES)
    for declared in {case[0].type: case[0] for case in CASES}.values():
        assert any(c[0].type == declared.type and c[1] for c in CASES), f"{declared.type} never passes"
        assert any(c[0].type == declared.type and not c[1] for c in CASES), f"{declared.type} never fails"


@pytest.mark.parametrize("executor", sorted(EXECUTORS))
def test_a_rule_that_cannot_run_fails_alone_and_says_why(executor: str) -> None:
    broken = rule({"type": "expression", "name": "uses_a_missing_column", "expression": "bonus > 0"})
    fine = rule({"type": "not_null", "column": "rate"})
    failed, passed = EXECUTORS[executor]((broken, fine))
    assert (failed.check_name, failed.passed, failed.blocking) == ("uses_a_missing_column", False, True)
    assert "bonus" in failed.observed["error"]
    assert (passed.check_name, passed.passed) == ("not_null_rate", True)


@pytest.mark.parametrize("executor", ["sql", "pandera"])
def test_accepted_values_on_floats_with_infinity_and_nan(executor: str) -> None:
    frame = pd.DataFrame({"x": [7.0, float("inf"), float("nan"), 2.5]})
    accepted = (rule({"type": "accepted_values", "column": "x", "values": [7, "2.5"]}),)
    if executor == "sql":
        con = duckdb.connect()
        con.register("frame", frame)
        con.execute('CREATE TABLE "t" AS SELECT * FROM frame')
        (result,) = run_sql_rules(con, '"t"', accepted, lambda p: p, NOW)
    else:
        (result,) = run_pandera_rules(frame, accepted, _ref_values, NOW)
    assert "error" not in result.observed
    assert (result.passed, result.failing_rows) == (False, 1)  # inf; NaN is null to pandas and to DuckDB


def test_warn_severity_reports_without_blocking() -> None:
    (result,) = _sql((rule({"type": "not_null", "column": "employee_id", "severity": "warn"}),))
    assert not result.passed and not result.blocking


def test_max_age_on_empty_table_fails() -> None:
    con = duckdb.connect()
    con.execute('CREATE TABLE "t" (loaded_at TIMESTAMP)')
    (result,) = run_sql_rules(
        con, '"t"', (rule({"type": "max_age", "column": "loaded_at", "max_age": "1d"}),), lambda p: p, NOW
    )
    assert not result.passed and result.observed["newest"] is None


def test_rule_arguments_are_validated_when_declared() -> None:
    with pytest.raises(ValueError, match=r"range min 5\.0 is greater than max 1\.0"):
        rule({"type": "range", "column": "hours", "min": 5, "max": 1})
    with pytest.raises(ValueError, match="row_count needs min, max or both"):
        rule({"type": "row_count"})


def test_pandera_checks_without_loading_hypothesis_which_stays_importable() -> None:
    """pandera imports hypothesis, when installed, for generating data the platform never asks for."""
    script = """
import sys
import pandas as pd
from platform_core.descriptors.rules import Unique
from platform_core.quality.pandera_executor import run_pandera_rules
(result,) = run_pandera_rules(pd.DataFrame({"id": [1, 1]}), [Unique(type="unique", columns=["id"])], None, None)
print(result.passed, "hypothesis" in sys.modules)
import hypothesis
print(hypothesis.__name__)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "False", "hypothesis"], done.stderr
