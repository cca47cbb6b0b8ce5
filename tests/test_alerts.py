"""Alerts: owners, and the consumers of what they publish, hear when a product's promise breaks and
when it recovers, once each, by e-mail (a real SMTP server, aiosmtpd, on 127.0.0.1) and by the
domains' chat webhooks (an HTTP receiver here), through the platform's `platform__alerts` sensor.
"""

from __future__ import annotations

import email
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import Message as Mail
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from platform_core.alerts.conditions import conditions
from platform_core.alerts.engine import look, read_sent, sent_log
from platform_core.catalog.mesh import load_mesh
from platform_core.cli import main
from platform_core.dagster.alerts import build_alerts_sensor
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.errors import PlatformError
from platform_core.settings import AlertSettings, Settings
from tests.conftest import PROJECT, materialize
from tests.factories import (
    ORDERS_CSV,
    consumer_product_yaml,
    copy_of_the_mesh,
    edit_yaml,
    product_yaml,
    write_consumer_domain,
    write_domain,
    write_major_two,
)
from tests.receivers import JsonReceiver, receiving
from tests.topology import free_port

SHOP, LEDGER = "shop@example.com", "ledger@example.com"
WORKSPACE = (
    "load_from:\n"
    "  - python_module: {module_name: domains.shop.definitions, location_name: shop}\n"
    "  - python_module: {module_name: domains.ledger.definitions, location_name: ledger}\n"
)


class Inbox:
    """A mail server on 127.0.0.1: every message it was given, with its recipients."""

    def __init__(self) -> None:
        self.mails: list[tuple[tuple[str, ...], Mail]] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content, policy=email_policy)
        self.mails.append((tuple(envelope.rcpt_tos), mail))
        return "250 OK"

    def to(self, address: str) -> list[Mail]:
        return [mail for recipients, mail in self.mails if address in recipients]

    def take(self) -> dict[str, list[str]]:
        """Who got what since the last take: subjects by address."""
        found: dict[str, list[str]] = {}
        for recipients, mail in self.mails:
            for address in recipients:
                found.setdefault(address, []).append(str(mail["Subject"]).strip())
        self.mails.clear()
        return found


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    box.controller.start()
    try:
        yield box
    finally:
        box.controller.stop()


@pytest.fixture
def hooks() -> Iterator[JsonReceiver]:
    with receiving(JsonReceiver) as found:
        yield found


def _mesh(tmp_path: Path, inbox: Inbox, ledger: dict | None = None) -> Settings:
    write_domain(tmp_path)
    write_consumer_domain(tmp_path, ledger)
    (tmp_path / "workspace.yaml").write_text(WORKSPACE)
    return Settings(
        warehouse_root=tmp_path / "warehouse",
        workspace=tmp_path / "workspace.yaml",
        alerts=AlertSettings(smtp_host="127.0.0.1", smtp_port=inbox.port, ui_url="http://ui.example"),
    )


class Sensor:
    """The platform's alerts sensor, ticked by hand as the daemon would, keeping its cursor."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance) -> None:
        self.settings, self.instance, self.cursor = settings, instance, None
        self.sensor = build_alerts_sensor(settings)

    def tick(self) -> str:
        result = self.sensor.evaluate_tick(dg.build_sensor_context(instance=self.instance, cursor=self.cursor))
        self.cursor = result.cursor
        return str(result.skip_message)

    def restart(self) -> None:
        """A new daemon: a sensor of its own, with the cursor Dagster kept."""
        self.sensor = build_alerts_sensor(self.settings)


def _shop(tmp_path: Path, settings: Settings, instance: dg.DagsterInstance, data: dict | None = None) -> bool:
    write_domain(tmp_path, data)
    return materialize(build_domain(tmp_path / "domains" / "shop", settings), instance).success


def _tiny_revenue(name: str = "revenue_tiny", severity: str = "error") -> dict:
    shop = product_yaml()
    shop["output_ports"][1]["quality"].append(
        {"type": "range", "name": name, "column": "revenue", "max": 1, "severity": severity}
    )
    return shop


# --- breaking and recovering, once each -------------------------------------------------------------


def test_a_product_not_published_tells_its_owner_and_its_consumers_once_then_once_it_recovers(
    tmp_path: Path, inbox: Inbox, instance
) -> None:
    settings = _mesh(tmp_path, inbox)
    sensor = Sensor(settings, instance)
    assert _shop(tmp_path, settings, instance)
    assert sensor.tick().startswith("0 condition(s) now") and inbox.take() == {}

    assert not _shop(tmp_path, settings, instance, _tiny_revenue())
    assert "2 message(s) sent" in sensor.tick()
    (owner,) = inbox.to(SHOP)
    (consumer,) = inbox.to(LEDGER)
    text = owner.get_content()
    assert owner["Subject"] == "BROKEN: shop.sales was not published: 1 blocking check(s) failed"
    assert "daily_sales: revenue_tiny failed" in text
    assert "day=2026-01-02, revenue=30.50" in text  # the failing rows' sample
    assert "see: http://ui.example/assets/shop/sales/daily_sales?view=checks" in text
    assert "You hear of it because ledger.vat, of yours, reads shop.sales." in consumer.get_content()
    inbox.take()

    assert sensor.tick().endswith("0 message(s) sent") and inbox.take() == {}  # still broken: nothing more
    sensor.restart()
    assert sensor.tick().endswith("0 message(s) sent") and inbox.take() == {}  # a restart resends nothing

    assert _shop(tmp_path, settings, instance)
    sensor.tick()
    assert inbox.take() == {
        SHOP: ["RECOVERED: shop.sales is published again"],
        LEDGER: ["RECOVERED: shop.sales is published again"],
    }
    sent = read_sent(sent_log(settings.warehouse_root))
    assert [(s["recipient"], s["status"]) for s in sent] == [
        (f"email:{SHOP}", "sent"),
        (f"email:{LEDGER}", "sent"),
        (f"email:{SHOP}", "sent"),
        (f"email:{LEDGER}", "sent"),
    ]


def test_a_warning_check_failing_tells_the_owner_only(tmp_path: Path, inbox: Inbox, instance) -> None:
    settings = _mesh(tmp_path, inbox)
    sensor = Sensor(settings, instance)
    watched = product_yaml()  # a day's revenue over 25 is worth a look, not a reason to hold the product
    watched["output_ports"][1]["quality"].append(
        {"type": "range", "name": "revenue_watch", "column": "revenue", "max": 25, "severity": "warn"}
    )
    assert _shop(tmp_path, settings, instance, watched)  # published all the same (2026-01-02 made 30.50)
    sensor.tick()
    assert inbox.take() == {
        SHOP: ["BROKEN: shop.sales.daily_sales: warning check revenue_watch failed (the product was published)"]
    }
    write_domain(tmp_path, watched, files={"data/orders.csv": ORDERS_CSV.replace("2,bob,20.00", "2,bob,2.00")})
    assert materialize(build_domain(tmp_path / "domains" / "shop", settings), instance).success
    sensor.tick()
    assert inbox.take() == {SHOP: ["RECOVERED: shop.sales: the warning check passes again"]}


def test_a_consumers_broken_expectation_tells_the_consumer_in_one_message(tmp_path: Path, inbox: Inbox, instance):
    ledger = consumer_product_yaml()
    ledger["inputs"][0]["expects"] = {"quality": [{"type": "range", "column": "revenue", "max": 1}]}
    settings = _mesh(tmp_path, inbox, ledger)
    sensor = Sensor(settings, instance)
    assert not _shop(tmp_path, settings, instance)
    sensor.tick()
    (mail,) = inbox.to(LEDGER)  # not published, and its own expectation broken: one message
    assert mail["Subject"] == "2 changes in the data mesh: shop.sales; shop.sales.daily_sales"
    assert "BROKEN: shop.sales.daily_sales broke what ledger.vat expects of it, and was not published" in str(
        mail.get_content()
    )


def test_a_failed_run_and_a_domain_that_stops_loading_tell_their_owner(tmp_path: Path, inbox: Inbox, instance):
    settings = _mesh(tmp_path, inbox)
    sensor = Sensor(settings, instance)
    orders = tmp_path / "domains" / "shop" / "data" / "orders.csv"
    orders.write_text('order_id,customer,amount,status,ordered_at\n"1,alice,10.50,paid,2026-01-02\n')  # unreadable
    assert not materialize(build_domain(tmp_path / "domains" / "shop", settings), instance).success
    sensor.tick()
    (mail,) = inbox.to(SHOP)
    assert "  Execution of run for " in mail.get_content()  # why, as Dagster recorded it (a reaped run says so)
    assert "run: http://ui.example/runs/" in mail.get_content()
    assert inbox.take() == {SHOP: ["BROKEN: shop.sales: its last run failed; its ports keep their last good version"]}

    domain_file = tmp_path / "domains" / "shop" / "domain.yaml"
    kept = domain_file.read_text()
    edit_yaml(tmp_path / "domains" / "shop" / "products" / "sales" / "product.yaml", lambda d: d.pop("sla"))
    sensor.tick()  # a governance error: the location does not load; the domain's owner hears it
    assert inbox.take() == {SHOP: ["BROKEN: domain shop does not load: nothing of it runs until it does"]}
    edit_yaml(tmp_path / "domains" / "shop" / "products" / "sales" / "product.yaml", lambda d: d.update(product_yaml()))
    domain_file.write_text(kept)
    write_domain(tmp_path)
    assert materialize(build_domain(tmp_path / "domains" / "shop", settings), instance).success
    sensor.tick()
    assert sorted(inbox.take()[SHOP]) == [
        "2 changes in the data mesh: shop; shop.sales",
    ]


def test_a_sunset_within_notice_tells_the_readers_once(tmp_path: Path, inbox: Inbox, instance) -> None:
    sunset = date.today() + timedelta(days=10)
    settings = _mesh(tmp_path, inbox, consumer_product_yaml("shop.sales.daily_sales@1"))
    write_major_two(tmp_path, sunset.isoformat())
    sensor = Sensor(settings, instance)
    sensor.tick()
    subject = f"BROKEN: major 1 of shop.sales stops being published on {sunset.isoformat()}, in 10d"
    assert inbox.take() == {SHOP: [subject], LEDGER: [subject]}
    sensor.tick()
    assert inbox.take() == {}


# --- freshness, from the instance's clock ----------------------------------------------------------


def test_freshness_warns_fails_and_recovers_once_each(tmp_path: Path, inbox: Inbox, instance) -> None:
    settings = _mesh(tmp_path, inbox)
    assert _shop(tmp_path, settings, instance)
    index = MeshIndex.of_workspace(settings.workspace)
    mesh, state, now = load_mesh(index), {}, datetime.now(UTC)
    heard = []
    for hours in (1, 25.5, 26.5, 27, 1):  # shop.sales warns after 25h and fails after 26h
        found = conditions(mesh, instance, {}, now + timedelta(hours=hours), "http://ui", timedelta(days=30))
        state, _ = look(state, found, mesh, index, settings.alerts, None, now)
        heard.append(inbox.take())
    warned, failed, recovered = (
        "BROKEN: shop.sales is nearly stale: its freshness SLA warns",
        "WORSE: shop.sales is stale: its freshness SLA is breached",
        "RECOVERED: shop.sales is fresh again",
    )
    assert heard == [  # its consumer hears too: what it reads is getting old
        {},
        {SHOP: [warned], LEDGER: [warned]},
        {SHOP: [failed], LEDGER: [failed]},
        {},
        {SHOP: [recovered], LEDGER: [recovered]},
    ]


# --- delivery ---------------------------------------------------------------------------------------


def test_a_mail_server_that_is_down_breaks_nothing_is_reported_and_the_message_goes_later(
    tmp_path: Path, inbox: Inbox, instance
) -> None:
    settings = _mesh(tmp_path, inbox)
    down = replace(settings, alerts=replace(settings.alerts, smtp_port=free_port(), timeout_seconds=2))
    sensor = Sensor(down, instance)
    assert not _shop(tmp_path, settings, instance, _tiny_revenue())
    said = sensor.tick()
    assert "2 not sent: the mail server 127.0.0.1:" in said and inbox.take() == {}
    assert {s["status"] for s in read_sent(sent_log(settings.warehouse_root))} == {"failed"}
    sensor.settings = settings  # the mail server is back
    sensor.restart()
    sensor.tick()
    assert inbox.take() == {
        SHOP: ["BROKEN: shop.sales was not published: 1 blocking check(s) failed"],
        LEDGER: ["BROKEN: shop.sales was not published: 1 blocking check(s) failed"],
    }
    sensor.tick()
    assert inbox.take() == {}


def test_a_domains_webhooks_get_slack_and_teams_messages(
    tmp_path: Path, inbox: Inbox, hooks: JsonReceiver, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _mesh(tmp_path, inbox)
    sensor = Sensor(settings, instance)
    assert not _shop(tmp_path, settings, instance, _tiny_revenue())
    domain = yaml.safe_load((tmp_path / "domains" / "shop" / "domain.yaml").read_text())
    domain["alerts"] = {
        "webhooks": [
            {"name": "shop_slack", "url_variable": "MESH_TEST_SHOP_SLACK"},
            {"name": "shop_teams", "url_variable": "MESH_TEST_SHOP_TEAMS", "format": "teams"},
        ]
    }
    (tmp_path / "domains" / "shop" / "domain.yaml").write_text(yaml.safe_dump(domain))
    monkeypatch.setenv("MESH_TEST_SHOP_SLACK", hooks.url + "/hook")
    monkeypatch.setenv("MESH_TEST_SHOP_TEAMS", hooks.url + "/hook?teams")
    sensor.tick()
    slack, teams = sorted(hooks.posted, key=lambda p: "@type" in p)
    assert slack["text"].startswith("*BROKEN: shop.sales was not published")
    assert (teams["@type"], teams["title"]) == (
        "MessageCard",
        "BROKEN: shop.sales was not published: 1 blocking check(s) failed",
    )
    assert "revenue_tiny" in teams["text"]

    product = tmp_path / "domains" / "shop" / "products" / "sales" / "product.yaml"
    edit_yaml(product, lambda d: d.update(alerts={"webhooks": ["shop_sms"]}))
    with pytest.raises(PlatformError, match=r"no webhook 'shop_sms' in domain\.yaml"):
        build_domain(tmp_path / "domains" / "shop", settings)


def test_mesh_alerts_lists_who_hears_and_sends_a_test(tmp_path: Path, inbox: Inbox, monkeypatch) -> None:
    settings = _mesh(tmp_path, inbox)
    monkeypatch.setenv("MESH_WAREHOUSE", str(settings.warehouse_root))
    monkeypatch.setenv("MESH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MESH_SMTP_PORT", str(inbox.port))
    workspace = str(settings.workspace)
    listed = json.loads(CliRunner().invoke(main, ["alerts", "--json", "-w", workspace]).output)
    assert {"product": "shop.sales", "hears": [SHOP], "consumers subscribed": ["ledger.vat"]} in listed["configured"]
    result = CliRunner().invoke(main, ["alerts", "test", "--domain", "shop", "-w", workspace])
    assert result.exit_code == 0, result.output
    assert inbox.take() == {SHOP: ["Test alert for domain shop"]}
    monkeypatch.setenv("MESH_SMTP_PORT", str(free_port()))
    assert CliRunner().invoke(main, ["alerts", "test", "--domain", "shop", "-w", workspace]).exit_code == 1


# --- the flagship ---------------------------------------------------------------------------------


def test_hr_data_hears_of_a_self_managing_employee_and_finance_of_the_port_it_reads(
    tmp_path: Path, inbox: Inbox, instance
) -> None:
    domains = copy_of_the_mesh(tmp_path)
    shutil.copy(PROJECT / "workspace.yaml", domains.parent / "workspace.yaml")
    settings = Settings(
        warehouse_root=tmp_path / "warehouse",
        workspace=domains.parent / "workspace.yaml",
        alerts=AlertSettings(smtp_host="127.0.0.1", smtp_port=inbox.port),
    )
    sensor = Sensor(settings, instance)
    employees = domains / "hr" / "data" / "employees.csv"
    good = employees.read_text()
    employees.write_text(
        good.replace(",Site Operations,E00001,Senior Operator,", ",Site Operations,E00002,Senior Operator,", 1)
    )
    assert not materialize(build_domain(domains / "hr", settings), instance).success
    sensor.tick()
    (hr,) = inbox.to("hr-data@example.com")
    (finance,) = inbox.to("finance-data@example.com")
    assert "nobody_manages_themselves failed" in hr.get_content() and "E00002" in hr.get_content()
    assert "overtime_analysis" in finance.get_content() and "You hear of it because finance." in finance.get_content()
    inbox.take()
    employees.write_text(good)
    assert materialize(build_domain(domains / "hr", settings), instance).success
    sensor.tick()
    assert inbox.take() == {
        "hr-data@example.com": ["RECOVERED: hr.overtime is published again"],
        "finance-data@example.com": ["RECOVERED: hr.overtime is published again"],
    }
