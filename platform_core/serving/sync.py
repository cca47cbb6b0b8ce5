"""Bringing the serving database in line with the mesh: every product's last version, every person.

`mesh serving start` and `mesh serving sync` do this; so does each product run for its own
product. It heals what a failed serving left: a product whose serving failed is served the
lake's version, whatever run published it.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.descriptors.people import People
from platform_core.descriptors.spec import Product
from platform_core.serving.access import Synced, sync_people
from platform_core.serving.database import ServingTarget, admin, ensure_foundation
from platform_core.serving.publish import Served, serve_latest
from platform_core.storage.lake import Lake


@dataclass(frozen=True)
class ServedState:
    """A product as the lake and the serving database have it."""

    product: str
    published: str | None  # version (snapshot) last published to the lake
    served: str | None  # version (snapshot) the serving database serves

    @property
    def in_step(self) -> bool:
        return self.published == self.served


def sync(
    target: ServingTarget, lake: Lake, products: list[Product], people: People, run_id: str | None = None
) -> tuple[list[Served], Synced]:
    """Serve each product's last publication that is not served yet, then the people (who may
    now find new domains on their search path)."""
    served = [serve_latest(target, lake, product, run_id) for product in products]
    return served, sync_people(target, people)


def states(target: ServingTarget, lake: Lake, products: list[Product]) -> list[ServedState]:
    with admin(target) as connection, connection.cursor() as cursor:
        ensure_foundation(connection)
        cursor.execute("SELECT product, version, snapshot FROM mesh.served")
        served = {product: f"{version} (snapshot {snapshot})" for product, version, snapshot in cursor.fetchall()}
    with lake.connect() as con:
        latest = {}
        for product in products:
            found = lake.publications(con, product.product_address)
            if found:
                latest[product.product_address] = f"{found[-1].version} (snapshot {found[-1].snapshot_id})"
    return [
        ServedState(p.product_address, latest.get(p.product_address), served.get(p.product_address)) for p in products
    ]
