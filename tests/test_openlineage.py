"""OpenLineage: every product run sends its run events where the client's own configuration says,
received here by an HTTP server on 127.0.0.1 as Marquez would receive them.

Every event received is validated against the OpenLineage JSON Schema of the client's spec (kept
in tests/openlineage_spec: no package ships it), each facet against the schema its `_schemaURL`
names; and the client's own classes, generated from that spec, must read it and write it back
unchanged: a required field missing, a field of the wrong type, a name the spec does not have or a
facet under the wrong schema fails it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import socket
import types
import uuid
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import attr
import duckdb
import openlineage.client.generated as generated
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openlineage.client.constants import __version__ as CLIENT_VERSION
from openlineage.client.event_v2 import RunEvent
from openlineage.client.generated.base import BaseFacet, DatasetFacet, InputDatasetFacet, OutputDatasetFacet
from openlineage.client.serde import Serde
from referencing import Registry, Resource

from platform_core.catalog.mesh import load_mesh
from platform_core.catalog.openlineage import (
    HTTP_RETRY,
    HTTP_TIMEOUT_SECONDS,
    ProductRun,
    client,
    column_lineage,
    end_event,
    product_lineage,
)
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.execution.products import run_product
from platform_core.settings import Settings, openlineage_settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, materialize
from tests.factories import product_yaml, run_steps, write_consumer_domain, write_domain
from tests.receivers import JsonReceiver, receiving


class Receiver(JsonReceiver):
    """An OpenLineage HTTP endpoint: the events it was sent, in order."""

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.posted

    def of(self, job: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["job"]["name"] == job]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(Receiver) as found:
        yield found


@pytest.fixture(autouse=True)
def _no_openlineage_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test configures OpenLineage itself: none of the machine's variables or files count,
    and the variables the client writes itself (from OPENLINEAGE_URL) go with the test."""
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"  # where the client looks for ~/.openlineage/openlineage.yml
    home.mkdir()
    extensions = Path.home() / ".duckdb"  # where DuckDB keeps the lake's extensions, for every test
    extensions.mkdir(exist_ok=True)
    (home / ".duckdb").symlink_to(extensions, target_is_directory=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    client.cache_clear()
    yield
    for name in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        del os.environ[name]
    client.cache_clear()


# --- what the client ships of the spec -------------------------------------------------------------


def _client_classes() -> dict[str, type]:
    """Every facet class the client ships, by the schema URL its events name it with."""
    found: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(generated.__path__):
        module = importlib.import_module(f"{generated.__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and attr.has(value) and issubclass(value, BaseFacet):
                found[value._get_schema()] = value
    return found


FACET_CLASSES = _client_classes()
# In the spec's JSON Schema a dataset, input and output facet are each a base facet (a dataset facet
# adds only an optional `_deleted`): any of a dataset's three facet maps takes any of them. OpenLineage's
# own dbt integration puts `dataQualityAssertions`, an input facet, among a dataset's facets too.
DATASET_FACETS = (DatasetFacet, InputDatasetFacet, OutputDatasetFacet)


def _rebuild(cls: type, data: Any) -> Any:
    assert isinstance(data, dict), f"{cls.__name__}: {data!r} is not an object"
    attr.resolve_types(cls)
    fields = {field.name: field for field in attr.fields(cls)}
    unknown = set(data) - set(fields)
    assert not unknown, f"{cls.__name__} has no {sorted(unknown)}"
    arguments = {
        field.alias: _value(field.type, data[name]) for name, field in fields.items() if field.init and name in data
    }
    return cls(**arguments)


def _value(kind: Any, data: Any) -> Any:
    if get_origin(kind) in (Union, types.UnionType):
        kind = next(k for k in get_args(kind) if k is not type(None))
    origin = get_origin(kind)
    if origin is list:
        assert isinstance(data, list), data
        return [_value(get_args(kind)[0], item) for item in data]
    if origin is dict:
        assert isinstance(data, dict), data
        return {key: _value(get_args(kind)[1], item) for key, item in data.items()}
    if isinstance(kind, type) and issubclass(kind, BaseFacet):
        assert data.get("_schemaURL") in FACET_CLASSES, f"no facet of the client has schema {data.get('_schemaURL')}"
        facet = FACET_CLASSES[data["_schemaURL"]]
        slot = DATASET_FACETS if issubclass(kind, DATASET_FACETS) else kind
        assert issubclass(facet, slot), f"{facet.__name__} is not a {kind.__name__}"
        return _rebuild(facet, data)
    if isinstance(kind, type) and attr.has(kind):
        return _rebuild(kind, data)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    if kind is float:
        assert isinstance(data, int | float) and not isinstance(data, bool), data
    elif kind is not Any:
        assert isinstance(data, kind), f"{data!r} is not a {kind.__name__}"
    return data


def conforms(event: dict[str, Any]) -> None:
    """The event is valid against the OpenLineage JSON Schema of the client's spec, each facet against
    the schema its `_schemaURL` names, and the client's classes read it and write it back unchanged."""
    assert event["schemaURL"].startswith(CORE["$id"]), (event["schemaURL"], CORE["$id"])
    errors = [f"event: {e.message} at {list(e.absolute_path)}" for e in _validator(CORE).iter_errors(event)]
    slots = [("run", event.get("run", {}).get("facets")), ("job", event.get("job", {}).get("facets"))] + [
        (f"{kind}.{d['name']}.{slot}", d.get(slot))
        for kind in ("inputs", "outputs")
        for d in event.get(kind, [])
        for slot in ("facets", "inputFacets", "outputFacets")
    ]
    for where, facets in slots:
        for key, facet in (facets or {}).items():
            url = facet["_schemaURL"]
            errors += [f"{where}.{key}: {e.message}" for e in _validator({"$ref": url}).iter_errors(facet)]
            document = SPEC_REGISTRY.resolver().lookup(url.partition("#")[0]).contents
            if key not in document.get("properties", {}):  # the facet's own key, as its schema names it
                errors.append(f"{where}.{key}: {url} names it {sorted(document.get('properties', {}))}")
    assert not errors, errors
    rebuilt = _rebuild(RunEvent, event)
    assert Serde.to_dict(rebuilt) == event


SPEC = Path(__file__).parent / "openlineage_spec"  # the spec's JSON Schemas (openlineage_spec/README.md)
_DOCUMENTS = [json.loads(file.read_text(encoding="utf-8")) for file in sorted(SPEC.glob("*.json"))]
SPEC_REGISTRY = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in _DOCUMENTS)
CORE = next(doc for doc in _DOCUMENTS if doc["$id"].endswith("/OpenLineage.json"))


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, registry=SPEC_REGISTRY, format_checker=FormatChecker())


# --- what a run sends ------------------------------------------------------------------------------


def _columns(port) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "type": c.type, "description": c.description, "ordinal_position": i, "fields": []}
        for i, c in enumerate(port.columns, start=1)
    ]


def _dataset(events: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in events[-1][kind] if d["name"] == name]
    return found


def test_each_product_run_sends_start_and_complete_with_its_datasets_lineage_and_checks(
    tmp_path: Path, settings: Settings, instance, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_yaml = product_yaml()
    bronze = shop_yaml["layers"]["bronze"][0]["columns"]
    next(c for c in bronze if c["name"] == "amount")["source"] = ["orders_file.amount"]  # a file declares no columns
    shop = build_domain(write_domain(tmp_path, shop_yaml), settings)
    ledger = build_domain(write_consumer_domain(tmp_path), settings)
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)

    produced = materialize(shop, instance)
    consumed = materialize(ledger, instance)
    assert produced.success and consumed.success

    for event in receiver.events:
        conforms(event)
    assert set(receiver.paths) == {"/api/v1/lineage"}
    sales, vat = receiver.of("shop.sales"), receiver.of("ledger.vat")
    assert [e["eventType"] for e in sales] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in vat] == ["START", "COMPLETE"]
    for events, address, result in ((sales, "shop.sales", produced), (vat, "ledger.vat", consumed)):
        run_ids = {e["run"]["runId"] for e in events}
        assert run_ids == {str(uuid.uuid5(uuid.NAMESPACE_URL, f"dagster-run:{result.run_id}/{address}"))}
        assert {e["job"]["namespace"] for e in events} == {"mesh"}
        assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in events} == {result.run_id}
        assert {e["run"]["facets"]["tags"]["tags"][0]["value"] for e in events} == {CLIENT_VERSION}

    (shop_product,) = load_domain(tmp_path / "domains" / "shop").products
    (vat_product,) = load_domain(tmp_path / "domains" / "ledger").products
    orders_file = str((tmp_path / "domains" / "shop" / "data" / "orders.csv").resolve())
    assert [(d["namespace"], d["name"]) for d in sales[-1]["inputs"]] == [("file", orders_file)]
    assert [d["name"] for d in sales[-1]["outputs"]] == ["shop.sales.customers", "shop.sales.daily_sales"]
    revenue = _dataset(sales, "outputs", "shop.sales.daily_sales")["facets"]["columnLineage"]["fields"]["revenue"]
    assert revenue["inputFields"] == [
        {"namespace": "file", "name": orders_file, "field": "amount", "transformations": []}
    ]

    daily_sales = shop_product.output_ports[1]
    read = _dataset(vat, "inputs", "shop.sales.daily_sales")
    assert read["namespace"] == "mesh" and read["facets"]["schema"]["fields"] == _columns(daily_sales)
    assert (
        [d["name"] for d in vat[0]["outputs"]] == [d["name"] for d in vat[-1]["outputs"]] == ["ledger.vat.vat_by_day"]
    )
    written = _dataset(vat, "outputs", "ledger.vat.vat_by_day")
    assert written["facets"]["schema"]["fields"] == _columns(vat_product.output_ports[0])
    lineage = written["facets"]["columnLineage"]["fields"]
    assert lineage["revenue"]["inputFields"] == [
        {"namespace": "mesh", "name": "shop.sales.daily_sales", "field": "revenue", "transformations": []}
    ]
    assert {field["field"] for field in lineage["vat"]["inputFields"]} == {"revenue"}  # revenue * 0.2
    checks = {a["name"]: a for a in written["facets"]["dataQualityAssertions"]["assertions"]}
    assert {name: (a["assertion"], a["success"], a.get("column")) for name, a in checks.items()} == {
        "schema": ("schema", True, None),
        "unique_day": ("unique", True, "day"),
        "vat_is_a_fifth": ("expression", True, None),
    }
    rows = len(Warehouse(settings.warehouse_root).read("ledger.vat.vat_by_day").fetchall())
    assert written["outputFacets"]["outputStatistics"]["rowCount"] == rows > 0
    assert "columnLineage" not in vat[0]["outputs"][0]["facets"]  # START: what will be built, not yet how


def test_a_run_whose_checks_fail_sends_fail_naming_the_failed_step(
    tmp_path: Path, settings: Settings, instance, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_yaml = product_yaml()
    shop_yaml["output_ports"][1]["quality"] = [{"type": "range", "column": "revenue", "min": 1000}]
    shop = build_domain(write_domain(tmp_path, shop_yaml), settings)
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)

    assert not materialize(shop, instance).success

    for event in receiver.events:
        conforms(event)
    start, end = receiver.of("shop.sales")
    assert (start["eventType"], end["eventType"]) == ("START", "FAIL")
    assert end["run"]["facets"]["errorMessage"]["message"] == (
        "shop.sales.daily_sales: blocking checks failed (range_revenue)"
    )
    daily = _dataset([end], "outputs", "shop.sales.daily_sales")
    checks = {a["name"]: (a["success"], a["severity"]) for a in daily["facets"]["dataQualityAssertions"]["assertions"]}
    assert checks["range_revenue"] == (False, "error")
    assert daily["outputFacets"] == {}  # not published: no row count of a version nobody reads


def test_a_run_that_raises_sends_fail_and_an_interrupted_one_abort(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    (shop,) = load_domain(write_domain(tmp_path)).products
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    warned: list[str] = []
    for error in (RuntimeError("the lake is locked\nby another writer"), KeyboardInterrupt()):
        with pytest.raises(type(error)), product_lineage(shop, str(uuid.uuid4()), "job", {"orders"}, (), warned.append):
            raise error
    assert warned == []

    for event in receiver.events:
        conforms(event)
    assert [e["eventType"] for e in receiver.events] == ["START", "FAIL", "START", "ABORT"]
    assert receiver.events[1]["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: the lake is locked"
    assert "Traceback" in receiver.events[1]["run"]["facets"]["errorMessage"]["stackTrace"]


def test_checks_of_a_live_port_alone_make_it_an_input_with_their_results(tmp_path: Path) -> None:
    (shop,) = load_domain(write_domain(tmp_path)).products
    warehouse = Warehouse(tmp_path / "warehouse")
    assert run_steps(warehouse, shop, masking_key="key").publication is not None
    with duckdb.connect(str(warehouse.database("shop"))) as con:
        warehouse.lake.attach(con)
        snapshot = warehouse.lake.current_snapshot(con)
        outcome = run_product(con, warehouse.lake, shop, build=(), audit_only={"daily_sales"}, input_snapshot=snapshot)
    run = ProductRun(shop, str(uuid.uuid4()), "job", frozenset(), frozenset({"daily_sales"}))

    event = Serde.to_dict(end_event(run, outcome))

    conforms(event)
    assert (event["eventType"], event["outputs"]) == ("COMPLETE", [])
    (audited,) = event["inputs"]
    assert (audited["namespace"], audited["name"]) == ("mesh", "shop.sales.daily_sales")
    checks = {a["name"]: a["success"] for a in audited["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert checks == {"schema": True, "unique_day": True, "range_revenue": True}


def test_with_nothing_configured_nothing_is_sent(tmp_path: Path, settings: Settings, instance, receiver: Receiver):
    assert not openlineage_settings().configured
    assert materialize(build_domain(write_domain(tmp_path), settings), instance).success
    assert receiver.events == []
    assert client.cache_info().currsize == 0  # the client was not even made


def test_a_receiver_that_is_down_fails_no_run(tmp_path: Path, settings: Settings, instance, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on once the socket is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{port}")

    result = materialize(build_domain(write_domain(tmp_path), settings), instance)

    assert result.success
    warnings = [
        log.user_message
        for log in instance.all_logs(result.run_id)
        if not log.is_dagster_event and log.level == logging.WARNING
    ]
    assert [w.split(" was not sent")[0] for w in warnings] == [
        "OpenLineage: the start event of shop.sales",
        "OpenLineage: the outcome event of shop.sales",
    ]
    transport = client(openlineage_settings()).transport
    assert (transport.timeout, transport.config.retry) == (HTTP_TIMEOUT_SECONDS, HTTP_RETRY)


def test_openlineage_yml_and_its_variables_configure_the_transport_and_the_namespace(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    (shop,) = load_domain(write_domain(tmp_path)).products
    config = tmp_path / "lineage" / "openlineage.yml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({"transport": {"type": "http", "url": receiver.url, "timeout": 7}}))
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "northwind")
    warned: list[str] = []

    with product_lineage(shop, str(uuid.uuid4()), "job", {"daily_sales"}, (), warned.append):
        pass

    (event,) = receiver.events
    conforms(event)
    assert (event["job"]["namespace"], event["outputs"][0]["namespace"]) == ("northwind", "northwind")
    assert event["outputs"][0]["name"] == "shop.sales.daily_sales"
    transport = client(openlineage_settings()).transport
    assert transport.timeout == 7  # chosen in the file: kept

    events = tmp_path / "events.jsonl"  # the file transport, from the client's own variables
    monkeypatch.delenv("OPENLINEAGE_CONFIG")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(events))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    with product_lineage(shop, str(uuid.uuid4()), "job", {"daily_sales"}, (), warned.append):
        pass
    assert warned == []
    (written,) = [json.loads(line) for line in events.read_text().splitlines()]
    conforms(written)
    assert written["eventType"] == "START" and len(receiver.events) == 1

    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not openlineage_settings().configured


def test_lineage_follows_a_consumer_through_its_steps_and_metrics_to_the_ports_it_reads() -> None:
    (ratio,) = [p for p in load_mesh(PROJECT / "workspace.yaml").products if p.name == "overtime_cost_ratio"]
    run = ProductRun(ratio, str(uuid.uuid4()), "job", frozenset(s.name for _, s in ratio.steps))
    (port,) = ratio.output_ports
    facet = column_lineage(run, port)
    assert facet is not None
    fields = {name: {(f.name, f.field) for f in found.inputFields} for name, found in facet.fields.items()}
    # net_revenue: cost_and_revenue (silver, SQL) <- Sales' port; overtime_cost: cost_and_revenue <-
    # overtime_cost_monthly (HR's metric, asked by address) <- HR's port
    assert fields["net_revenue"] == {("sales.orders.revenue_by_entity_month", "net_revenue")}
    assert ("hr.overtime.fact_overtime", "amount") in fields["overtime_cost"]
    assert "loaded_at" not in fields  # current_timestamp comes from no input
    assert {f.namespace for found in facet.fields.values() for f in found.inputFields} == {"mesh"}
