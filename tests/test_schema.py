"""Descriptors' JSON Schema: generated from the spec models, committed for editors, and true to the loader.

An editor on yaml-language-server (VS Code's YAML extension) completes and flags a descriptor by
its schema; these tests hold the schema to the models (the committed copy is what `mesh schema`
writes), to every descriptor the project ships (each validates and names its schema), and to the
loader on the problems one file can show (the schema flags them too).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from platform_core.cli import main
from platform_core.descriptors.schema import SCHEMA_FOLDER, descriptor_schema, schema_text
from platform_core.scaffold.plan import plan_domain
from tests.conftest import PROJECT
from tests.factories import product_yaml

KINDS = ("product", "domain", "people")
SHIPPED = sorted(
    [
        PROJECT / "people.yaml",
        *PROJECT.glob("domains/*/domain.yaml"),
        *PROJECT.glob("domains/*/products/*/product.yaml"),
    ]
)
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _as_json(data: object) -> object:
    """YAML as an editor's language server reads it: dates are strings (YAML 1.2)."""
    return json.loads(json.dumps(data, default=str))


def _errors(kind: str, data: object) -> list[str]:
    validator = Draft202012Validator(descriptor_schema(kind))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_as_json(data))]


@pytest.mark.parametrize("kind", KINDS)
def test_the_committed_schemas_are_the_models_and_valid_json_schema(kind: str) -> None:
    committed = (PROJECT / SCHEMA_FOLDER / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(kind), f"regenerate: mesh schema {kind} --out schemas/{kind}.schema.json"
    Draft202012Validator.check_schema(json.loads(committed))
    result = CliRunner().invoke(main, ["schema", kind])
    assert result.exit_code == 0 and result.output == committed


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(PROJECT)) for p in SHIPPED])
def test_every_shipped_descriptor_validates_and_points_its_editor_at_the_schema(path: Path) -> None:
    kind = path.name.removesuffix(".yaml")
    text = path.read_text(encoding="utf-8")
    match = MODELINE.match(text.splitlines()[0])
    assert match, f"{path} does not name its schema on its first line"
    assert (path.parent / match[1]).resolve() == PROJECT / SCHEMA_FOLDER / f"{kind}.schema.json"
    assert _errors(kind, yaml.safe_load(text)) == []


@pytest.mark.parametrize("template", ["simple", "dimensional"])
def test_what_the_templates_generate_validates_and_names_its_schema(tmp_path: Path, template: str) -> None:
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    plan = plan_domain(tmp_path, "zeta_ops", "team:zeta-ops", "zeta@example.com", None, template)
    files = {folder / relative: text for folder, written in plan.folders.items() for relative, text in written.items()}
    descriptors = {path: text for path, text in files.items() if path.name in ("domain.yaml", "product.yaml")}
    assert len(descriptors) == 2
    for path, text in descriptors.items():
        kind = path.name.removesuffix(".yaml")
        match = MODELINE.match(text.splitlines()[0])
        assert match and (path.parent / match[1]).resolve() == (tmp_path / SCHEMA_FOLDER / f"{kind}.schema.json")
        assert _errors(kind, yaml.safe_load(text)) == []


# Problems one file shows: the loader refuses each (tests/corpus), and an editor flags each too.
FLAGGED = {
    "unknown key": ({"colour": "blue"}, "colour"),
    "bad duration": ({"sla": {"freshness": {"fail_after": "a day"}}}, "a day"),
    "bad column type": ({"output_ports[0].columns[0].type": "varchar"}, "varchar"),
    "unknown rule": ({"output_ports[0].quality": [{"type": "not_empty", "column": "day"}]}, "not_empty"),
    "bad status": ({"status": "live"}, "live"),
    "bad product name": ({"name": "Sales"}, "Sales"),
    "bad team": ({"owner.team": "Shop Data"}, "Shop Data"),
    "contact Dagster refuses": ({"owner.contact": "x@y.z"}, "x@y.z"),
    "missing output ports": ({"output_ports": []}, "output_ports"),
    "bad input kind": ({"inputs[0].kind": "url"}, "url"),
}


def _changed(changes: dict[str, object]) -> dict:
    data = product_yaml()
    for path, value in changes.items():
        parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
        target = data
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return data


@pytest.mark.parametrize("case", sorted(FLAGGED))
def test_the_schema_flags_what_the_loader_refuses_in_one_file(case: str) -> None:
    changes, shown = FLAGGED[case]
    assert _errors("product", product_yaml()) == []  # the factory's product is valid
    errors = _errors("product", _changed(changes))
    assert errors and any(shown in error for error in errors), errors
