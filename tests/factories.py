"""A small, valid domain written into a temporary folder, for tests to load and to break."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import yaml

from platform_core.execution.products import ProductOutcome, run_product
from platform_core.storage.warehouse import Warehouse

ORDERS_CSV = """order_id,customer,amount,status,ordered_at
1,alice,10.50,paid,2026-01-02 10:00:00
2,bob,20.00,paid,2026-01-02 11:00:00
3,carol,5.25,refunded,2026-01-03 09:30:00
4,alice,7.75,paid,2026-01-03 12:00:00
"""

RAW_ORDERS_SQL = "SELECT * FROM orders_file"

ORDERS_SQL = """
SELECT CAST(order_id AS INTEGER) AS order_id, customer, CAST(amount AS DECIMAL(10,2)) AS amount,
       status, CAST(ordered_at AS TIMESTAMP) AS ordered_at
FROM raw_orders
"""

DAILY_SQL = """
SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue
FROM orders WHERE status = 'paid' GROUP BY 1
"""

TRANSFORMS_PY = """
import pandas as pd


def customers(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    orders = inputs["orders"]
    return orders.groupby("customer", as_index=False).agg(order_count=("order_id", "count"))
"""


def domain_yaml(name: str = "shop") -> dict[str, Any]:
    return {
        "name": name,
        "title": "Shop",
        "description": "Orders of the web shop.",
        "owner": {"team": "shop-data", "name": "Shop Data", "contact": "shop@example.com"},
    }


def product_yaml() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "name": "sales",
            "domain": "shop",
            "title": "Sales",
            "description": "Orders of the web shop, and the revenue they bring each day.",
            "owner": {"team": "shop-data", "contact": "shop@example.com"},
            "version": "1.0.0",
            "status": "active",
            "consumers": [
                {"name": "finance", "purpose": "revenue reporting"},
                {"name": "ledger_vat", "product": "ledger.vat", "purpose": "VAT due on the paid revenue"},
            ],
            "tags": ["demo"],
            "inputs": [{"name": "orders_file", "kind": "file", "path": "data/orders.csv", "format": "csv"}],
            "layers": {
                "bronze": [
                    {
                        "name": "raw_orders",
                        "description": "Orders as ingested.",
                        "sql": "sql/raw_orders.sql",
                        "depends_on": ["orders_file"],
                        "columns": [
                            {"name": n, "type": t, "description": n}
                            for n, t in [
                                (c, "string") for c in ("order_id", "customer", "amount", "status", "ordered_at")
                            ]
                            + [("source_file", "string"), ("source_row", "integer"), ("ingested_at", "timestamp")]
                        ],
                    }
                ],
                "silver": [
                    {
                        "name": "orders",
                        "description": "Typed orders.",
                        "sql": "sql/orders.sql",
                        "depends_on": ["raw_orders"],
                        "columns": [
                            {
                                "name": "order_id",
                                "type": "integer",
                                "description": "Order id.",
                                "nullable": False,
                                "unique": True,
                            },
                            {"name": "customer", "type": "string", "description": "Customer."},
                            {"name": "amount", "type": "decimal(10,2)", "description": "Amount."},
                            {"name": "status", "type": "string", "description": "Status."},
                            {"name": "ordered_at", "type": "timestamp", "description": "When."},
                        ],
                        "quality": [{"type": "accepted_values", "column": "status", "values": ["paid", "refunded"]}],
                    }
                ],
            },
            "output_ports": [
                {
                    "name": "customers",
                    "kind": "table",
                    "description": "Orders per customer.",
                    "python": "transforms.py:customers",
                    "depends_on": ["orders"],
                    "classification": "confidential",
                    "columns": [
                        {"name": "customer", "type": "string", "description": "Customer name.", "unique": True},
                        {"name": "order_count", "type": "integer", "description": "Orders placed."},
                    ],
                    "quality": [{"type": "row_count", "min": 1}],
                },
                {
                    "name": "daily_sales",
                    "kind": "view",
                    "description": "Paid revenue per day.",
                    "classification": "internal",
                    "sql": "sql/daily_sales.sql",
                    "depends_on": ["orders"],
                    "columns": [
                        {"name": "day", "type": "date", "description": "Day of the orders.", "unique": True},
                        {"name": "orders", "type": "integer", "description": "Paid orders."},
                        {"name": "revenue", "type": "decimal", "description": "Paid revenue."},
                    ],
                    "quality": [{"type": "range", "column": "revenue", "min": 0}],
                },
            ],
            "sla": {"freshness": {"fail_after": "26h", "warn_after": "25h"}},
            "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Paris"},
        }
    )


def write_domain(
    root: Path, product: dict[str, Any] | None = None, files: dict[str, str] | None = None, name: str = "shop"
) -> Path:
    """Write domain `name` (default `shop`) with product `sales` under root/domains; return the domain folder."""
    domain_dir = root / "domains" / name
    product_dir = domain_dir / "products" / "sales"
    product = product if product is not None else {**product_yaml(), "domain": name}
    contents = {
        "domain.yaml": yaml.safe_dump(domain_yaml(name)),
        "data/orders.csv": ORDERS_CSV,
        "products/sales/product.yaml": yaml.safe_dump(product, sort_keys=False),
        "products/sales/sql/raw_orders.sql": RAW_ORDERS_SQL,
        "products/sales/sql/orders.sql": ORDERS_SQL,
        "products/sales/sql/daily_sales.sql": DAILY_SQL,
        "products/sales/transforms.py": TRANSFORMS_PY,
        **(files or {}),
    }
    for relative, text in contents.items():
        path = domain_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert product_dir.is_dir()
    return domain_dir


V1_SQL = "SELECT day, orders, CAST(revenue_cents / 100 AS DECIMAL(18,2)) AS revenue FROM daily_sales"
V2_SQL = """
SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, CAST(sum(amount) * 100 AS BIGINT) AS revenue_cents
FROM orders WHERE status = 'paid' GROUP BY 1
"""


def major_two_yaml(sunset: str = "2027-03-31") -> dict:
    """shop.sales 2.0.0: daily_sales has revenue in cents now; major 1's daily_sales stays published,
    made from major 2's, until the sunset."""
    shop = product_yaml()
    v1 = shop["output_ports"][1]
    v2 = {
        **v1,
        "columns": [
            *v1["columns"][:2],
            {"name": "revenue_cents", "type": "integer", "description": "Paid revenue, in cents."},
        ],
        "quality": [{"type": "range", "column": "revenue_cents", "min": 0}],
    }
    shop["output_ports"][1] = v2
    shop.update(
        version="2.0.0",
        previous={
            "version": "1.4.0",
            "sunset": sunset,
            "ports": [{**v1, "sql": "sql/daily_sales_v1.sql", "depends_on": ["daily_sales"]}],
        },
    )
    return shop


def write_major_two(tmp_path: Path, sunset: str = "2027-03-31") -> Path:
    return write_domain(
        tmp_path,
        major_two_yaml(sunset),
        files={"products/sales/sql/daily_sales.sql": V2_SQL, "products/sales/sql/daily_sales_v1.sql": V1_SQL},
    )


LEDGER_SQL = """
SELECT day, revenue, CAST(revenue * 0.2 AS DECIMAL(12,2)) AS vat
FROM daily_sales
"""


def consumer_product_yaml(address: str = "shop.sales.daily_sales") -> dict[str, Any]:
    """Product `vat` of domain `ledger`, reading another domain's port by address."""
    return {
        "name": "vat",
        "domain": "ledger",
        "title": "VAT",
        "description": "The VAT due on the paid revenue of the web shop, per day.",
        "owner": {"team": "ledger-data", "contact": "ledger@example.com"},
        "version": "0.1.0",
        "status": "draft",
        "inputs": [
            {"name": "daily_sales", "kind": "port", "address": address, "purpose": "VAT due on the paid revenue"}
        ],
        "sla": {"freshness": {"fail_after": "30h"}},
        "schedule": {"cron": "0 7 * * *", "timezone": "Europe/Paris"},
        "output_ports": [
            {
                "name": "vat_by_day",
                "kind": "table",
                "description": "VAT due on each day's revenue.",
                "sql": "sql/vat_by_day.sql",
                "classification": "confidential",
                "depends_on": ["daily_sales"],
                "columns": [
                    {"name": "day", "type": "date", "description": "Day of the orders.", "unique": True},
                    {
                        "name": "revenue",
                        "type": "decimal",
                        "description": "Paid revenue.",
                        "source": ["daily_sales.revenue"],
                    },
                    {"name": "vat", "type": "decimal(12,2)", "description": "VAT at 20%."},
                ],
                "quality": [
                    {"type": "expression", "name": "vat_is_a_fifth", "expression": "vat = round(revenue * 0.2, 2)"}
                ],
            }
        ],
    }


def write_consumer_domain(root: Path, product: dict[str, Any] | None = None) -> Path:
    """Write domain `ledger` beside `shop` under root/domains; return the domain folder."""
    domain_dir = root / "domains" / "ledger"
    files = {
        "domain.yaml": yaml.safe_dump({**domain_yaml("ledger"), "title": "Ledger", "owner": {"team": "ledger-data"}}),
        "products/vat/product.yaml": yaml.safe_dump(product or consumer_product_yaml(), sort_keys=False),
        "products/vat/sql/vat_by_day.sql": LEDGER_SQL,
    }
    for relative, text in files.items():
        path = domain_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return domain_dir


def copy_of_the_mesh(tmp_path: Path) -> Path:
    """The project's three domains and its people copied under tmp_path, for tests that change a
    descriptor; the `domains` folder of the copy."""
    project = Path(__file__).resolve().parent.parent
    root = tmp_path / "project"
    for domain in ("hr", "sales", "finance"):
        shutil.copytree(
            project / "domains" / domain, root / "domains" / domain, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(project / "people.yaml", root / "people.yaml")
    return root / "domains"


def run_steps(
    warehouse: Warehouse, product: Any, build: set[str] | None = None, input_snapshot: int | None = None, **options: Any
) -> ProductOutcome:
    """Run a product's steps (all by default) without Dagster, in its domain's database with the
    lake attached, reading inputs at the lake's current snapshot unless told another."""
    warehouse.database(product.domain).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse.database(product.domain))) as con:
        warehouse.lake.attach(con)
        snapshot = warehouse.lake.current_snapshot(con) if input_snapshot is None else input_snapshot
        return run_product(
            con,
            warehouse.lake,
            product,
            build={s.name for _, s in product.steps} if build is None else build,
            input_snapshot=snapshot,
            **options,
        )


def edit_yaml(path: Path, change: Callable[[Any], object]) -> None:
    """Apply `change` to the YAML document in `path` (a descriptor, say) and write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
