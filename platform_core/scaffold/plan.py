"""`mesh new`: scaffold domains and products from the templates in platform_core/scaffold/templates.

Everything is decided before anything is written: names are validated, files rendered
(Jinja2) and the result loaded by the platform's own loader in a scratch folder. Only then
is it moved into place, never over an existing folder, and the domain registered in
workspace.yaml with the file's other entries and comments kept as they are.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.util import load_yaml_guess_indent

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.loader import load_component, load_domain, load_product
from platform_core.descriptors.mesh_index import COMPONENT_FILE, MeshIndex
from platform_core.descriptors.names import DUCKDB_NAMESPACES, lake_name_problem, reserved_sql_keywords
from platform_core.descriptors.spec import Product
from platform_core.descriptors.types import email_problem
from platform_core.descriptors.workspace import read_workspace
from platform_core.errors import PlatformError, ProblemCollector
from platform_core.scaffold import EXAMPLE_PRODUCT, PRODUCT_TEMPLATES, ScaffoldError

TEMPLATES = Path(__file__).resolve().parent / "templates"
RESERVED_NAMES = {"platform", "platform_core", "domains", "tests", "docs"}
MAX_NAME_LENGTH = 40
ACCEPTED = (
    "use snake_case that is not an SQL or Python keyword: a lowercase letter, then lowercase letters, "
    "digits or _ (for example zeta_ops)"
)


@dataclass(frozen=True)
class Plan:
    """What a command would write: new folders (moved in whole) and the workspace entry."""

    root: Path
    folders: dict[Path, dict[str, str]]  # final folder -> {relative path: text}
    register: str | None = None

    def paths(self) -> list[str]:
        listed = [str((folder / rel).relative_to(self.root)) for folder, files in self.folders.items() for rel in files]
        return sorted(listed) + (["workspace.yaml (add code location " + self.register + ")"] if self.register else [])


# --- names -------------------------------------------------------------------------------


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` cannot name a new domain or product, or None."""
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        return f"{name!r} looks like a path"
    bad = sorted({c for c in name if not re.match(r"[a-z0-9_]", c)})
    if bad:
        return f"{name!r} contains characters other than lowercase letters, digits and _: {''.join(bad)!r}"
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        return f"{name!r} must start with a lowercase letter"
    if len(name) > MAX_NAME_LENGTH:
        return f"{name!r} is longer than {MAX_NAME_LENGTH} characters"
    if name in reserved_sql_keywords():
        return f"{name!r} is a reserved SQL keyword"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name!r} is a Python keyword"
    if name in DUCKDB_NAMESPACES:
        return f"{name!r} is a name DuckDB uses for its own catalogs and schemas"
    if problem := lake_name_problem(name):
        return problem.removeprefix("bad name ")
    if kind == "domain" and name in RESERVED_NAMES:
        return f"{name!r} is reserved by the platform"
    return None


def _refuse(kind: str, name: str, problem: str) -> ScaffoldError:
    return ScaffoldError(f"refused: {problem}, so it cannot be a {kind} name; {ACCEPTED}. Nothing was written.")


def _team(owner: str) -> str:
    team = owner.removeprefix("team:")
    if not owner.startswith("team:") or not re.match(r"^[a-z0-9][a-z0-9-]*$", team):
        raise ScaffoldError(
            f"refused: owner {owner!r} is not a team; write it as team:<slug> "
            "(for example team:zeta-ops). Nothing was written."
        )
    return team


def _title(name: str) -> str:
    return name.replace("_", " ").title()


# --- planning ------------------------------------------------------------------------------


def plan_domain(
    root: Path,
    name: str,
    owner: str,
    contact: str | None = None,
    description: str | None = None,
    template: str = "simple",
    product: str | None = EXAMPLE_PRODUCT,
    owner_name: str | None = None,
    reads: tuple[str, ...] = (),
    purpose: str | None = None,
) -> Plan:
    """A new domain registered in workspace.yaml, with a first product from `template` named
    `product`, or none (product=None): an empty domain loads, with nothing to materialize. The
    `consumer` template reads the ports `reads` (addresses) for `purpose`."""
    for kind, value in (("domain", name), ("product", product)):
        if value is not None and (problem := name_problem(kind, value)):
            raise _refuse(kind, value, problem)
    folder = root / "domains" / name
    _check_workspace(root / "workspace.yaml")
    listed = {loc.domain for loc in read_workspace(root / "workspace.yaml")}
    if folder.exists() or name in listed:
        raise ScaffoldError(
            f"refused: domain {name!r} already exists ({folder.relative_to(root)}); "
            "choose another name. Nothing was written."
        )
    if contact is not None and email_problem(contact):
        raise ScaffoldError(
            f"refused: contact {contact!r} is not an e-mail address (as Dagster takes them: "
            "name@domain.tld). Nothing was written."
        )
    team = _team(owner)
    context: dict[str, object] = {
        "domain": name,
        "title": _title(name),
        "team": team,
        "owner_name": owner_name or f"{team.replace('-', ' ').title()} Team",
        "contact": contact,
        "description": description or f"Data products of the {_title(name)} domain.",
        "product": product,
        "product_title": f"{_title(name)} {_title(product or '')}",
    }
    if product and template == "consumer":
        context |= _consumer_context(root, name, reads, purpose)
    files = _render("domain", context) | (_product_files(template, context) if product else {})
    return Plan(root, {folder: files}, register=name)


def _consumer_context(root: Path, domain: str, reads: tuple[str, ...], purpose: str | None) -> dict[str, object]:
    """What the consumer template shows of each port it reads: its address, name and columns as
    its producer's contract declares them (classification kept: the data's sensitivity follows it)."""
    if not reads:
        raise ScaffoldError(
            "refused: the consumer template reads ports: give --reads <domain>.<product>.<port> (once per port). "
            "Nothing was written."
        )
    index = MeshIndex.at(root / "domains")
    inputs: list[dict[str, object]] = []
    for address in reads:
        try:
            resolved = index.resolve(address)
        except AddressError as error:
            raise ScaffoldError(f"refused: {error}. Nothing was written.") from None
        if resolved.producer.product.split(".")[0] == domain:
            raise ScaffoldError(
                f"refused: {address} is of domain {domain} itself; read it as a step. Nothing was written."
            )
        port = resolved.port
        name = (
            resolved.published_as
            if resolved.published_as not in {i["name"] for i in inputs}
            else (f"{resolved.producer.product.replace('.', '_')}_{resolved.published_as}")
        )
        inputs.append(
            {
                "name": name,
                "address": address,
                "purpose": purpose or f"<why {domain} reads {address}>",
                "classification": port.classification or "internal",
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type,
                        "description": c.description,
                        "classification": port.column_classification(c) if c.classification else None,
                    }
                    for c in port.columns
                ],
            }
        )
    return {"inputs": inputs, "reads_text": ", ".join(reads)}


def _check_workspace(workspace: Path) -> None:
    """The new domain is registered in workspace.yaml: make sure that can be done before writing."""
    if not workspace.is_file():
        raise ScaffoldError(
            f"refused: there is no {workspace}; run mesh from the project's folder or pass "
            "--project. Nothing was written."
        )
    try:
        data = pyyaml.safe_load(workspace.read_text(encoding="utf-8"))
    except pyyaml.YAMLError as error:
        raise ScaffoldError(f"refused: {workspace.name} is not valid YAML ({error}). Nothing was written.") from error
    if not isinstance(data, dict) or not isinstance(data.get("load_from"), list):
        raise ScaffoldError(
            f"refused: {workspace.name} has no load_from list to add the domain's code location to. "
            "Nothing was written."
        )


def plan_product(
    root: Path,
    domain: str,
    name: str,
    template: str = "simple",
    reads: tuple[str, ...] = (),
    purpose: str | None = None,
) -> Plan:
    if template not in PRODUCT_TEMPLATES:
        raise ScaffoldError(
            f"refused: unknown template {template!r}; use one of {', '.join(PRODUCT_TEMPLATES)}. Nothing was written."
        )
    problem = name_problem("product", name)
    if problem:
        raise _refuse("product", name, problem)
    domain_dir = root / "domains" / domain
    if not (domain_dir / "domain.yaml").is_file():
        known = sorted(MeshIndex.at(root / "domains").domain_names())
        raise ScaffoldError(
            f"refused: there is no domain {domain!r}; domains: {', '.join(known)}. Nothing was written."
        )
    spec = load_domain(domain_dir)
    for target in (domain_dir / "products" / name, domain_dir / "data" / name):
        if target.exists():
            raise ScaffoldError(
                f"refused: {target.relative_to(root)} already exists; choose another product name. Nothing was written."
            )
    context: dict[str, object] = {
        "domain": domain,
        "team": spec.owner.team,
        "owner_name": spec.owner.name,
        "contact": spec.owner.contact,
        "product": name,
        "product_title": _title(name),
    }
    if template == "consumer":
        context |= _consumer_context(root, domain, reads, purpose)
    files = _product_files(template, context)
    folders = {
        domain_dir / part / name: {
            k.removeprefix(f"{part}/{name}/"): v for k, v in files.items() if k.startswith(f"{part}/")
        }
        for part in ("products", "data")
    }
    return Plan(root, {folder: content for folder, content in folders.items() if content})


def _product_files(template: str, context: Mapping[str, object]) -> dict[str, str]:
    """A product template's files, placed as in a domain folder: products/<name>/..., data/<name>/..."""
    placed = {"product": "products", "data": "data"}
    rendered = _render(template, context)
    return {
        f"{placed[part]}/{context['product']}/{rest}": text
        for relative, text in rendered.items()
        for part, rest in [relative.split("/", 1)]
    }


def _render(template: str, context: Mapping[str, object]) -> dict[str, str]:
    folder = TEMPLATES / template
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["quoted"] = lambda value: json.dumps(value, ensure_ascii=False)  # YAML reads JSON strings
    return {
        str(path.relative_to(folder)).removesuffix(".j2"): env.get_template(str(path.relative_to(folder))).render(
            context
        )
        for path in sorted(folder.rglob("*.j2"))
    }


# --- applying --------------------------------------------------------------------------------


def apply(plan: Plan) -> None:
    """Write the plan: render into scratch, load it, then move each folder into place."""
    scratch = plan.root / ".tmp-mesh-new" / uuid.uuid4().hex
    try:
        staged = {}
        for final, files in plan.folders.items():
            staged[final] = scratch / final.relative_to(plan.root)
            for relative, text in files.items():
                path = staged[final] / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        _verify(plan, scratch)
        for final in staged:
            if final.exists():  # checked when planning; a concurrent command may have won since
                raise ScaffoldError(f"refused: {final.relative_to(plan.root)} appeared meanwhile. Nothing was written.")
        for final, folder in staged.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder, final)
        if plan.register:
            register_location(plan.root / "workspace.yaml", plan.register)
    finally:
        shutil.rmtree(plan.root / ".tmp-mesh-new", ignore_errors=True)


def _verify(plan: Plan, scratch: Path) -> None:
    """Load what was rendered with the platform's loader, and compile its Python, so a template
    can never ship a broken product or a module that does not import."""
    for module in scratch.rglob("*.py"):
        try:
            compile(module.read_text(encoding="utf-8"), str(module.relative_to(scratch)), "exec")
        except SyntaxError as error:
            raise ScaffoldError(
                f"refused: the generated {module.relative_to(scratch)} is not valid Python "
                f"({error.msg}, line {error.lineno}). Nothing was written."
            ) from error
    for other in MeshIndex.at(plan.root / "domains").domain_dirs():  # the mesh it reads from, beside it
        beside = scratch / "domains" / other.name
        if other.is_dir() and not beside.exists():
            beside.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(other.resolve(), beside, target_is_directory=True)
    for final in plan.folders:
        relative = final.relative_to(plan.root).parts  # domains/<d> or domains/<d>/products/<p> or .../data/<p>
        domain_dir = scratch / relative[0] / relative[1]
        if plan.register:
            load_domain(domain_dir)
        elif relative[2] == "products":
            shutil.copy(plan.root / "domains" / relative[1] / "domain.yaml", domain_dir / "domain.yaml")
            for data in (plan.root / "domains" / relative[1] / "data").glob("*"):
                target = domain_dir / "data" / data.name
                if not target.exists():
                    os.symlink(data, target)
            problems = ProblemCollector()
            load_product(
                scratch.joinpath(*relative) / "product.yaml", domain_dir, problems, MeshIndex.around(domain_dir)
            )
            problems.raise_if_any("the generated product does not load")


# --- a product as a dg component ----------------------------------------------------------------

COMPONENT_TYPE = "platform_core.DataProduct"


def render_component(
    target: Path,
    project_name: str,
    template: str = "simple",
    domain: str | None = None,
    owner: str | None = None,
    contact: str | None = None,
) -> list[Path]:
    """A product from `template` as a DataProduct component in folder `target` of a dg project:
    `defs.yaml` (the descriptor as its attributes), its SQL, and sample data under `data/`. Loaded
    in a scratch folder first, moved into place whole, never over an existing folder."""
    name = target.name
    domain = domain or re.sub(r"[^a-z0-9_]+", "_", project_name.lower()).strip("_") or "data"
    for kind, value in (("product", name), ("domain", domain)):
        if problem := name_problem(kind, value):
            raise _refuse(kind, value, problem)
    contact = contact or _git_email()
    if not contact or email_problem(contact):
        raise ScaffoldError(
            f"refused: {'contact ' + repr(contact) + ' is not an e-mail address' if contact else 'no contact'}"
            "; pass --contact <e-mail of the owning team> (a product names who to ask). "
            "Nothing was written."
        )
    if target.exists():
        raise ScaffoldError(f"refused: {target} already exists. Nothing was written.")
    context = {
        "domain": domain,
        "team": _team(owner or f"team:{domain.replace('_', '-')}"),
        "owner_name": None,  # a component's owner is its team; its name is the team's to add
        "contact": contact,
        "product": name,
        "product_title": _title(name),
    }
    files = {}
    for relative, text in _render(template, context).items():
        part, rest = relative.split("/", 1)
        files[COMPONENT_FILE if rest == "product.yaml" else rest if part == "product" else f"data/{name}/{rest}"] = (
            component_yaml(text) if rest == "product.yaml" else text
        )
    scratch = target.parent / f".{name}.{uuid.uuid4().hex}"
    try:
        for relative, text in files.items():
            (scratch / relative).parent.mkdir(parents=True, exist_ok=True)
            (scratch / relative).write_text(text, encoding="utf-8")
        attributes = pyyaml.safe_load(files[COMPONENT_FILE])["attributes"]
        load_component(Product.model_validate(attributes), scratch / COMPONENT_FILE, MeshIndex.of_defs_folder(scratch))
        os.rename(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(target / relative for relative in files)


def component_yaml(descriptor: str) -> str:
    """A product descriptor as a component's defs.yaml: its leading comments, then the type and the
    descriptor as attributes (indented, which leaves its YAML meaning as it was)."""
    lines = descriptor.splitlines()
    head = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    comments = [line for line in lines[:head] if not line.startswith("# yaml-language-server")]
    body = [f"  {line}" if line.strip() else "" for line in lines[head:]]
    return "\n".join([*comments, f"type: {COMPONENT_TYPE}", "attributes:", *body]) + "\n"


def _git_email() -> str | None:
    """The user's e-mail as git knows it, the usual default for an owner's contact."""
    try:
        found = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


def remove_domain(root: Path, name: str) -> list[str]:
    """Undo `mesh new domain`: drop the domain's folder and its code location from workspace.yaml.
    Refused while another domain reads one of its ports (their products would stop loading).
    What was removed, in words."""
    _check_workspace(root / "workspace.yaml")
    listed = {loc.domain for loc in read_workspace(root / "workspace.yaml")} - {None}
    # a name, never a path: `sales/`, `hr/../sales` or `../../elsewhere` name no domain
    if name not in listed or name_problem("domain", name):
        known = ", ".join(sorted(str(n) for n in listed)) or "none"
        raise ScaffoldError(
            f"refused: {name!r} is not a domain of workspace.yaml (domains: {known}); give a domain's "
            "name as listed there. Nothing was removed."
        )
    folder = root / "domains" / name
    if folder.is_symlink() or not folder.resolve().is_relative_to((root / "domains").resolve()):
        raise ScaffoldError(f"refused: domains/{name} leads outside {root / 'domains'}. Nothing was removed.")
    index = MeshIndex.at(root / "domains")
    readers = sorted(
        f"{entry.domain}/{entry.file.relative_to(entry.data_root).as_posix()}"
        for entry in index.products()
        if entry.domain != name and any(address.split(".")[0] == name for address in index.reads(entry))
    )
    if readers:
        raise ScaffoldError(
            f"refused: {', '.join(readers)} read(s) ports of {name!r}; remove those inputs first. Nothing was removed."
        )
    removed = []
    if name in listed:
        unregister_location(root / "workspace.yaml", name)
        removed.append(f"workspace.yaml (code location {name})")
    if folder.exists():
        shutil.rmtree(folder)
        removed.append(f"domains/{name}/")
    return removed


def unregister_location(workspace: Path, domain: str) -> None:
    """Drop the domain's code location from workspace.yaml, keeping every other line as it is."""
    _rewrite_workspace(workspace, lambda entries: [e for e in entries if _location_domain(e) != domain])


def _location_domain(entry: object) -> str | None:
    module = entry.get("python_module") if isinstance(entry, dict) else None
    name = module.get("module_name", "") if isinstance(module, dict) else ""
    return name.removeprefix("domains.").removesuffix(".definitions") if name.startswith("domains.") else None


def register_location(workspace: Path, domain: str) -> None:
    """Append the domain's code location to workspace.yaml, keeping every other line as it is."""
    _rewrite_workspace(
        workspace,
        lambda entries: [
            *entries,
            CommentedMap(
                python_module=CommentedMap(
                    module_name=f"domains.{domain}.definitions", location_name=domain, working_directory="."
                )
            ),
        ],
    )


def _rewrite_workspace(workspace: Path, change: Callable[[list[Any]], list[Any]]) -> None:
    """Rewrite workspace.yaml's `load_from` list as `change` makes it (entries as ruamel reads them)."""

    def change_entries(data: Any) -> None:
        entries = change(list(data["load_from"]))
        data["load_from"].clear()
        data["load_from"].extend(entries)

    rewrite_yaml(workspace, change_entries)


def rewrite_yaml(path: Path, change: Callable[[Any], None]) -> None:
    """Change a YAML file in place as `change` edits its data (as ruamel reads it), keeping every
    comment, quote and the file's own list style; written whole or not at all."""
    text = path.read_text(encoding="utf-8")
    _, sequence_indent, dash_offset = load_yaml_guess_indent(text)  # keep the file's own list style
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=sequence_indent or 4, offset=2 if dash_offset is None else dash_offset)
    yaml.width = 4096
    data = yaml.load(text)
    change(data)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with temporary.open("w", encoding="utf-8") as stream:
        yaml.dump(data, stream)
    os.replace(temporary, path)


__all__ = [
    "PlatformError",
    "ScaffoldError",
    "apply",
    "plan_domain",
    "plan_product",
    "register_location",
    "remove_domain",
    "unregister_location",
]
