"""JSON Schema of the descriptors, generated from the spec models, for editors and other tools.

VS Code's YAML extension (and any editor on yaml-language-server) completes and flags a
`product.yaml`, `domain.yaml` or `people.yaml` that names its schema in a first-line comment, as the templates
and the mesh's own descriptors do:

    # yaml-language-server: $schema=../../../../schemas/product.schema.json

The schema says what one file can say: keys, types, names, durations, column types, rule kinds.
What needs more than one file (references, SQL, files on disk, governance) is `mesh check`'s.
The committed copies in `schemas/` are regenerated with `mesh schema product --out
schemas/product.schema.json` (and `domain`); a test keeps them equal to the models.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from platform_core.descriptors.people import People
from platform_core.descriptors.spec import Domain, Product

SCHEMAS: dict[str, tuple[type[BaseModel], str, str]] = {
    "product": (
        Product,
        "Data product descriptor",
        "domains/<domain>/products/<product>/product.yaml, or the attributes of a "
        "platform_core.DataProduct component (docs/descriptors.md).",
    ),
    "domain": (Domain, "Domain descriptor", "domains/<domain>/domain.yaml (docs/descriptors.md)."),
    "people": (
        People,
        "People of the serving database",
        "people.yaml: the groups of people and their members (docs/serving.md).",
    ),
}
DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FOLDER = "schemas"


def descriptor_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a descriptor file (`product` or `domain`), from its model."""
    model, title, description = SCHEMAS[kind]
    schema = model.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": f"{kind}.schema.json", **schema, "title": title, "description": description}


def schema_text(kind: str) -> str:
    """The schema as the committed file holds it: indented, keys in the models' order, one newline."""
    return json.dumps(descriptor_schema(kind), indent=2, ensure_ascii=False) + "\n"
