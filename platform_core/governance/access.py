"""Who reads what: restricted ports only by the consumers they grant, personal data masked for
consumers without a grant for it.

A port with personal columns is published twice in one commit: as it is, and masked
(`<product>__<port>__masked`), each personal column a keyed hash (the same value always
hashes the same, so joins still work) or null, as the producer declares. A consumer's run
reads the masked table unless its grant says `personal: true`. The key is a secret of the
platform's (`MESH_MASKING_KEY`, or a key file outside the repository); without it, the
platform refuses to publish rather than publish personal data unmasked.
"""

from __future__ import annotations

from platform_core.descriptors.column_types import duckdb_type
from platform_core.descriptors.names import quote
from platform_core.descriptors.spec import Port

MASKED_SUFFIX = "__masked"
KEY_TABLE = "__mesh_masking_key"  # a one-row temporary table: the key never appears in SQL text


def may_read(port: Port, consumer: str) -> bool:
    """Whether product `consumer` (`<domain>.<product>`) may read the port at all."""
    return port.access == "public" or port.grant(consumer) is not None


def reads_masked(port: Port, consumer: str) -> bool:
    """Whether `consumer` reads the port's masked table: it has personal columns, and no grant for them."""
    grant = port.grant(consumer)
    return bool(port.personal_columns) and not (grant is not None and grant.personal)


def masked_select(port: Port, table: str) -> str:
    """The port's rows from `table` (quoted), each personal column masked as the port declares."""
    columns = []
    for column in port.columns:
        name = quote(column.name)
        if port.column_classification(column) != "personal":
            columns.append(name)
        elif (column.masking or "hash") == "hash":
            columns.append(
                f"CASE WHEN {name} IS NULL THEN NULL "
                f"ELSE sha256(concat(k.key, ':', CAST({name} AS VARCHAR))) END AS {name}"
            )
        else:
            columns.append(f"CAST(NULL AS {duckdb_type(column.type)}) AS {name}")
    return f"SELECT {', '.join(columns)} FROM {table}, {quote(KEY_TABLE)} AS k"
