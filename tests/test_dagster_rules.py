"""What the loader accepts of Dagster's rules (schedules' cron, owners' e-mail) Dagster accepts too.

Validating a descriptor needs no Dagster (platform_core.descriptors.cron, .types): these tests ask
Dagster itself about the same values, so that a descriptor `mesh check` passes also loads, and
a value Dagster refuses is refused when the descriptor loads, with its field.
"""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest
from pydantic import TypeAdapter, ValidationError

from platform_core.descriptors.cron import cron_problem
from platform_core.descriptors.types import Email

ACCEPTED_CRONS = [
    "0 6 * * *",
    "30 5 * * *",
    "*/15 * * * *",
    "0 0 1 * *",
    "0 9 * * mon-fri",
    "0 9 * * 1-5",
    "0,30 8-18 * * *",
    "0 6 * jan,jul *",
    "5 4 * * sun",
    "0 0 * * 7",
    "0 0 29 2 *",
    "@daily",
    "@hourly",
    "@weekly",
    "@monthly",
    "0 12 */2 * *",
    "0 6 1-7/2 * *",
    "59 23 31 12 *",
]
REFUSED_CRONS = [
    "every day",
    "61 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "0 0 * 13 *",
    "0 0 * * 8",
    "* * * *",
    "* * * * * *",
    "0 0 30 2 *",
    "0 0 31 feb *",
    "*/0 * * * *",
    "5-2 * * * *",
    "0 6 ? * *",
    "",
    "0 6 * * funday",
]
EMAILS = [
    "hr@example.com",
    "hr.data@corp.example.org",
    "a+b@x.io",
    "x@y.z",
    '"evil"@x.io',
    "<script>@x.io",
    "a@b.verylongtld",
    "a b@x.io",
    "a@x",
    "A_B-c%d@EX-ample.COM",
]


def dagster_schedules(cron: str) -> bool:
    try:
        dg.ScheduleDefinition(name="probe", cron_schedule=cron, target=dg.AssetSelection.all())
    except (dg.DagsterInvalidDefinitionError, dg.DagsterInvariantViolationError):
        return False
    return True


@pytest.mark.parametrize("cron", ACCEPTED_CRONS + REFUSED_CRONS)
def test_a_cron_the_loader_accepts_schedules_in_dagster(cron: str) -> None:
    accepted = cron_problem(cron) is None
    assert accepted == (cron in ACCEPTED_CRONS), cron_problem(cron)
    if accepted:
        assert dagster_schedules(cron)
    if not dagster_schedules(cron):
        assert not accepted


@pytest.mark.parametrize("email", EMAILS)
def test_an_owner_address_is_judged_as_dagster_judges_it(email: str) -> None:
    try:
        TypeAdapter(Email).validate_python(email)
        ours = True
    except ValidationError:
        ours = False
    try:
        dg.AssetSpec(key="probe", owners=[email])
        dagsters = True
    except dg.DagsterInvalidDefinitionError:
        dagsters = False
    assert ours == dagsters


def test_validating_descriptors_imports_no_dagster() -> None:
    code = (
        "import sys; from platform_core.descriptors.loader import load_domain; "
        "from platform_core.descriptors.mesh_index import MeshIndex; "
        "index = MeshIndex.of_workspace(__import__('pathlib').Path('workspace.yaml')); "
        "[load_domain(d, index) for d in index.domain_dirs()]; "
        "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))"
    )
    from tests.conftest import PROJECT

    shown = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"
