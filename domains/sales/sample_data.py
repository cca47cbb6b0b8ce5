"""Deterministic sample sources for the Sales Orders data product.

Writes four CSV extracts into ``domains/sales/data/`` as a CRM and an order-management
system would export them:

- ``customers.csv``    the B2B customer master, each customer served by one selling legal entity
- ``products.csv``     the product catalogue with its reference list prices (EUR)
- ``orders.csv``       13 months of order headers (2025-10-01 .. 2026-10-31), with a few
                       dirty rows that silver must clean or reject
- ``order_lines.csv``  the lines of those orders (about 2.5 per order), with a few dirty rows

Every run writes byte-for-byte identical files: fixed seeds (one per source, so changing
one generator does not reshuffle the others), no clock, ``\\n`` line endings, stable order.

    python -m domains.sales.sample_data [OUT_DIR]
"""

from __future__ import annotations

import math
import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from platform_core.scaffold.sample_data import days, money, run_generator, write_csv

SEED = 20251001
DATA_DIR = Path(__file__).resolve().parent / "data"

PERIOD_START = date(2025, 10, 1)
PERIOD_END = date(2026, 10, 31)

# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------

# The selling legal entities: the same codes as HR's entities.csv (dim_entity of hr.overtime).
ENTITIES = {
    # entity_id: (home country, currency of its invoices, countries it also sells to, share of customers)
    "DE01": ("DE", "EUR", ["AT", "NL"], 0.30),
    "ES01": ("ES", "EUR", ["PT"], 0.18),
    "FR01": ("FR", "EUR", ["BE", "LU"], 0.30),
    "GB01": ("GB", "GBP", ["IE"], 0.22),
}
# GB01 invoices in pounds from its own price list: the EUR list price converted at this fixed
# price-list rate and rounded to pence.
GBP_PRICE_LIST_RATE = Decimal("0.86")

CUSTOMER_COUNT = 400
SEGMENTS = [("enterprise", 0.10), ("mid-market", 0.30), ("smb", 0.60)]
# How often a customer orders, relative to an smb customer.
SEGMENT_ORDER_WEIGHT = {"enterprise": 6.0, "mid-market": 2.5, "smb": 1.0}
# Quantity per line (low, high) and the discounts the segment gets (percent).
SEGMENT_QUANTITY = {"enterprise": (5, 120), "mid-market": (2, 40), "smb": (1, 12)}
SEGMENT_DISCOUNTS = {
    "enterprise": ["10.00", "12.50", "15.00", "17.50", "20.00", "25.00"],
    "mid-market": ["0.00", "5.00", "7.50", "10.00", "12.50"],
    "smb": ["0.00", "0.00", "0.00", "2.50", "5.00"],
}
# Channel mix per segment: key accounts go through EDI and sales reps, small firms buy online.
SEGMENT_CHANNELS = {
    "enterprise": (["edi", "sales_rep", "phone", "web"], [50, 35, 10, 5]),
    "mid-market": (["edi", "sales_rep", "phone", "web"], [15, 40, 20, 25]),
    "smb": (["edi", "sales_rep", "phone", "web"], [0, 10, 25, 65]),
}

NAME_STEMS = [
    "Atlas",
    "Boreal",
    "Cobalt",
    "Delta",
    "Elbe",
    "Fjord",
    "Granite",
    "Harbor",
    "Iberia",
    "Juniper",
    "Keystone",
    "Lumen",
    "Meridian",
    "Nordic",
    "Orion",
    "Pioneer",
    "Quarry",
    "Rhine",
    "Summit",
    "Tagus",
    "Union",
    "Vanguard",
    "Westway",
    "Zenith",
    "Alpine",
    "Beacon",
    "Crescent",
    "Dynamo",
    "Evergreen",
    "Falcon",
]
NAME_TRADES = [
    "Retail",
    "Foods",
    "Pharma",
    "Distribution",
    "Automotive",
    "Electronics",
    "Textiles",
    "Furniture",
    "Chemicals",
    "Logistics",
    "Beverages",
    "Cosmetics",
    "Hardware",
    "Paper",
    "Medical",
    "Garden",
]
LEGAL_FORMS = {
    "DE": ["GmbH", "AG", "GmbH & Co. KG"],
    "AT": ["GmbH"],
    "NL": ["B.V."],
    "ES": ["S.L.", "S.A."],
    "PT": ["Lda."],
    "FR": ["SAS", "SARL", "SA"],
    "BE": ["SRL", "NV"],
    "LU": ["S.a r.l."],
    "GB": ["Ltd", "plc"],
    "IE": ["Ltd"],
}

# category -> products (name, list price in EUR cents)
CATALOGUE = {
    "packaging": [
        ("Corrugated box S (100 pcs)", 3890),
        ("Corrugated box M (100 pcs)", 5490),
        ("Corrugated box L (50 pcs)", 4990),
        ("Double-wall box XL (25 pcs)", 4590),
        ("Stretch film 23 micron (6 rolls)", 6790),
        ("Stretch film pre-stretched (6 rolls)", 8490),
        ("Packing tape PP 50 mm (36 rolls)", 4290),
        ("Paper tape gummed (10 rolls)", 5990),
        ("Bubble wrap 100 m", 3490),
        ("Void fill paper (1 bale)", 2990),
        ("Pallet cover bags (250 pcs)", 7490),
        ("Strapping kit PET", 12900),
    ],
    "handling": [
        ("Manual pallet truck 2.5 t", 39900),
        ("Scale pallet truck 2 t", 89900),
        ("Electric pallet truck 1.5 t", 249000),
        ("Platform trolley 300 kg", 18900),
        ("Sack truck foldable", 8990),
        ("Drum handler", 64900),
        ("Scissor lift table 500 kg", 119000),
        ("Roll container", 14900),
        ("Stacker manual 1 t", 129000),
        ("Order picking cart", 32900),
    ],
    "storage": [
        ("Pallet racking bay 3 levels", 54900),
        ("Boltless shelving 5 shelves", 15900),
        ("Cantilever rack single side", 99000),
        ("Small parts bins (40 pcs)", 8990),
        ("Euro container 60x40 (10 pcs)", 11900),
        ("Mesh deck 1100 mm (10 pcs)", 24900),
        ("Wire mesh cage 1.2 m", 34900),
        ("Pallet box plastic", 28900),
        ("Mezzanine floor module", 459000),
        ("Drawer cabinet 10 drawers", 74900),
    ],
    "labelling": [
        ("Thermal label printer 4 in", 64900),
        ("Industrial label printer 6 in", 189000),
        ("Handheld barcode scanner", 21900),
        ("Mobile computer with scanner", 119000),
        ("Thermal labels 100x150 (12 rolls)", 8990),
        ("Thermal transfer ribbons (10 pcs)", 7990),
        ("Pallet labels A5 (500 pcs)", 4490),
        ("Shelf label holders (100 pcs)", 5990),
    ],
    "safety": [
        ("Safety gloves nitrile (12 pairs)", 2490),
        ("Hi-vis vest (10 pcs)", 3990),
        ("Safety shoes S3", 7990),
        ("Rack protector corner (5 pcs)", 12900),
        ("Floor marking tape (10 rolls)", 5490),
        ("First aid kit workplace", 6990),
        ("Spill kit 100 l", 18900),
        ("Safety barrier 2 m", 21900),
        ("Convex mirror 600 mm", 14900),
        ("Ear protection (20 pcs)", 4490),
    ],
    "services": [
        ("Racking inspection (per bay)", 2500),
        ("Pallet truck maintenance contract (1 year)", 19900),
        ("On-site installation (per day)", 89000),
        ("Warehouse layout study", 350000),
        ("Operator training session", 65000),
        ("Label printer service contract (1 year)", 24900),
        ("Express delivery surcharge", 4900),
        ("Equipment rental (per week)", 29900),
        ("Software licence WMS-lite (per month)", 49900),
        ("Extended warranty (3 years)", 14900),
    ],
}
# Quantities are scaled down for expensive items: nobody buys 80 mezzanine floors.
PRICE_QUANTITY_SCALE = [(100000, 0.05), (30000, 0.15), (10000, 0.4), (0, 1.0)]

# Orders per day at a seasonality of 1 on a weekday; weekends see only a trickle of web orders.
ORDERS_PER_WEEKDAY = 25.0
WEEKEND_FACTOR = 0.12
# Activity per month: year-end peak in November/December, summer dip in August.
SEASONALITY = {
    1: 0.85,
    2: 0.90,
    3: 1.00,
    4: 0.95,
    5: 0.95,
    6: 1.05,
    7: 0.85,
    8: 0.55,
    9: 1.05,
    10: 1.05,
    11: 1.35,
    12: 1.45,
}
STATUSES = (["completed", "cancelled", "returned"], [91, 5, 4])
LINES_PER_ORDER = ([1, 2, 3, 4, 5, 6], [25, 30, 22, 12, 7, 4])

# --------------------------------------------------------------------------------------
# Dirty rows: documented here, injected deterministically, checked by hand and by tests
# --------------------------------------------------------------------------------------

# Rows that silver must clean (still valid) or reject (kept in orders_rejected /
# order_lines_rejected with their rejection_reason). `line_number` is set for order lines.
DIRTY_ROWS: list[dict[str, str | int]] = [
    # cleaned: the row stays valid once normalised
    {
        "file": "orders.csv",
        "order_id": "SO0000150",
        "problem": "status in upper case (COMPLETED)",
        "expected": "cleaned",
    },
    {
        "file": "orders.csv",
        "order_id": "SO0002222",
        "problem": "status with surrounding spaces and mixed case",
        "expected": "cleaned",
    },
    {
        "file": "order_lines.csv",
        "order_id": "SO0000777",
        "line_number": 1,
        "problem": "quantity written as a decimal (3.0)",
        "expected": "cleaned",
    },
    {
        "file": "order_lines.csv",
        "order_id": "SO0003456",
        "line_number": 1,
        "problem": "unit_price with a comma decimal separator",
        "expected": "cleaned",
    },
    {
        "file": "order_lines.csv",
        "order_id": "SO0005001",
        "line_number": 1,
        "problem": "product_id in lower case with a trailing space",
        "expected": "cleaned",
    },
    # rejected: silver keeps them aside with the reason
    {
        "file": "order_lines.csv",
        "order_id": "SO0001313",
        "line_number": 1,
        "problem": "unknown product_id P9999 (not in the catalogue)",
        "expected": "rejected",
        "rejection_reason": "unknown_product",
    },
    {
        "file": "order_lines.csv",
        "order_id": "SO0002718",
        "line_number": 1,
        "problem": "negative quantity (-4), a return keyed as an order line",
        "expected": "rejected",
        "rejection_reason": "negative_quantity",
    },
    # the order is rejected, and so are all its lines (rejection_reason order_rejected)
    {
        "file": "orders.csv",
        "order_id": "SO0004040",
        "problem": "unknown customer_id C9999",
        "expected": "rejected",
        "rejection_reason": "unknown_customer",
    },
    # exported twice, identical rows: the last row of the file is kept, the first one rejected
    {
        "file": "order_lines.csv",
        "order_id": "SO0006006",
        "line_number": 1,
        "problem": "order line exported twice (identical rows); the first row is rejected",
        "expected": "rejected",
        "rejection_reason": "duplicate_line",
    },
]

CUSTOMER_COLUMNS = ["customer_id", "customer_name", "segment", "country", "entity_id"]
PRODUCT_COLUMNS = ["product_id", "product_name", "category", "list_price"]
ORDER_COLUMNS = ["order_id", "order_date", "customer_id", "entity_id", "currency", "status", "channel"]
LINE_COLUMNS = ["order_id", "line_number", "product_id", "quantity", "unit_price", "discount_pct"]


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _rng(part: str) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so they do not depend on PYTHONHASHSEED.
    return random.Random(f"{SEED}-sales-{part}")


# --------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------


def build_customers() -> list[dict[str, str]]:
    """The B2B customer master: 400 companies, each served by one selling legal entity."""
    rng = _rng("customers")
    entity_ids = sorted(ENTITIES)
    shares = [ENTITIES[e][3] for e in entity_ids]
    segments, segment_weights = zip(*SEGMENTS, strict=True)
    customers: list[dict[str, str]] = []
    used_names: set[str] = set()
    for number in range(1, CUSTOMER_COUNT + 1):
        entity_id = rng.choices(entity_ids, weights=shares)[0]
        home, _currency, abroad, _share = ENTITIES[entity_id]
        country = rng.choice(abroad) if rng.random() < 0.15 else home
        while True:
            name = f"{rng.choice(NAME_STEMS)} {rng.choice(NAME_TRADES)} {rng.choice(LEGAL_FORMS[country])}"
            if name not in used_names:
                break
        used_names.add(name)
        customers.append(
            {
                "customer_id": f"C{number:04d}",
                "customer_name": name,
                "segment": rng.choices(segments, weights=segment_weights)[0],
                "country": country,
                "entity_id": entity_id,
            }
        )
    return customers


def build_products() -> list[dict[str, str]]:
    """The catalogue: 60 products in six categories, list prices in EUR."""
    products = []
    number = 0
    for category, items in CATALOGUE.items():
        for name, cents in items:
            number += 1
            products.append(
                {"product_id": f"P{number:04d}", "product_name": name, "category": category, "list_price": money(cents)}
            )
    return products


def _local_price(list_price: str, currency: str) -> str:
    price = Decimal(list_price)
    if currency == "GBP":
        price = (price * GBP_PRICE_LIST_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return str(price)


def build_orders(
    customers: list[dict[str, str]], products: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Order headers and lines, before dirty rows are injected."""
    rng = _rng("orders")
    # Each customer has its own buying intensity on top of its segment's.
    weights = [SEGMENT_ORDER_WEIGHT[c["segment"]] * rng.lognormvariate(0.0, 0.6) for c in customers]
    # Popular products sell more: a fixed popularity per product.
    popularity = [rng.uniform(0.2, 1.0) ** 2 for _ in products]
    orders: list[dict[str, str]] = []
    lines: list[dict[str, str]] = []
    for day in days(PERIOD_START, PERIOD_END):
        mean = ORDERS_PER_WEEKDAY * SEASONALITY[day.month] * (WEEKEND_FACTOR if day.weekday() >= 5 else 1.0)
        count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        for _ in range(count):
            customer = rng.choices(customers, weights=weights)[0]
            segment = customer["segment"]
            currency = ENTITIES[customer["entity_id"]][1]
            channels, channel_weights = SEGMENT_CHANNELS[segment]
            order_id = f"SO{len(orders) + 1:07d}"
            orders.append(
                {
                    "order_id": order_id,
                    "order_date": day.isoformat(),
                    "customer_id": customer["customer_id"],
                    "entity_id": customer["entity_id"],
                    "currency": currency,
                    "status": rng.choices(*STATUSES)[0],
                    "channel": "web" if day.weekday() >= 5 else rng.choices(channels, weights=channel_weights)[0],
                }
            )
            line_count = rng.choices(*LINES_PER_ORDER)[0]
            chosen: list[dict[str, str]] = []
            while len(chosen) < line_count:
                product = rng.choices(products, weights=popularity)[0]
                if product not in chosen:
                    chosen.append(product)
            discount = rng.choice(SEGMENT_DISCOUNTS[segment])  # negotiated per order
            low, high = SEGMENT_QUANTITY[segment]
            for line_number, product in enumerate(chosen, start=1):
                scale = next(
                    s for threshold, s in PRICE_QUANTITY_SCALE if Decimal(product["list_price"]) * 100 >= threshold
                )
                quantity = max(1, round(rng.randint(low, high) * scale))
                lines.append(
                    {
                        "order_id": order_id,
                        "line_number": str(line_number),
                        "product_id": product["product_id"],
                        "quantity": str(quantity),
                        "unit_price": _local_price(product["list_price"], currency),
                        "discount_pct": discount,
                    }
                )
    return orders, lines


def inject_dirty_rows(
    orders: list[dict[str, str]], lines: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Apply DIRTY_ROWS to copies of the clean rows; the duplicate line is appended at the end."""
    orders = [dict(o) for o in orders]
    lines = [dict(line) for line in lines]
    order_by_id = {o["order_id"]: o for o in orders}
    line_by_key = {(line["order_id"], int(line["line_number"])): line for line in lines}
    missing = [
        d["order_id"]
        for d in DIRTY_ROWS
        if d["order_id"] not in order_by_id
        or ("line_number" in d and (d["order_id"], d["line_number"]) not in line_by_key)
    ]
    if missing:
        raise RuntimeError(f"dirty order ids not generated: {missing}")

    order_by_id["SO0000150"]["status"] = order_by_id["SO0000150"]["status"].upper()
    order_by_id["SO0002222"]["status"] = "  " + order_by_id["SO0002222"]["status"].capitalize() + " "
    line_by_key[("SO0000777", 1)]["quantity"] = "3.0"
    line = line_by_key[("SO0003456", 1)]
    line["unit_price"] = line["unit_price"].replace(".", ",")
    line = line_by_key[("SO0005001", 1)]
    line["product_id"] = line["product_id"].lower() + " "

    line_by_key[("SO0001313", 1)]["product_id"] = "P9999"
    line_by_key[("SO0002718", 1)]["quantity"] = "-4"
    order_by_id["SO0004040"]["customer_id"] = "C9999"
    # Double export: the very same line twice, the copy at the end of the extract.
    exported_twice = dict(line_by_key[("SO0006006", 1)])
    return orders, [*lines, exported_twice]


def generate(out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write the four CSV files into `out_dir`; returns the number of data rows per file."""
    out_dir = Path(out_dir)
    customers = build_customers()
    products = build_products()
    orders, lines = inject_dirty_rows(*build_orders(customers, products))
    return {
        "customers.csv": write_csv(
            out_dir / "customers.csv", CUSTOMER_COLUMNS, [[r[c] for c in CUSTOMER_COLUMNS] for r in customers]
        ),
        "products.csv": write_csv(
            out_dir / "products.csv", PRODUCT_COLUMNS, [[r[c] for c in PRODUCT_COLUMNS] for r in products]
        ),
        "orders.csv": write_csv(out_dir / "orders.csv", ORDER_COLUMNS, [[r[c] for c in ORDER_COLUMNS] for r in orders]),
        "order_lines.csv": write_csv(
            out_dir / "order_lines.csv", LINE_COLUMNS, [[r[c] for c in LINE_COLUMNS] for r in lines]
        ),
    }


def main(argv: list[str] | None = None) -> None:
    run_generator(generate, DATA_DIR, argv)


if __name__ == "__main__":
    main()
