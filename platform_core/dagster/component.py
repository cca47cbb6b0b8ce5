"""`DataProduct`: a data product as a Dagster Component type.

A product descriptor is the component's attributes, the same model (`Product`) a domain's
`product.yaml` is read with: nothing is declared twice. In any `dg` project,

    # defs/orders/defs.yaml
    type: platform_core.DataProduct
    attributes:
      name: orders
      domain: shop
      ...                       # the descriptor, as docs/descriptors.md describes it

gives the product everything a domain product gets: a step per asset, its contract as checks,
freshness, schedule, automation that follows the ports it reads, product-atomic publication to
the lake and the global governance policies (a component's domain has no `domain.yaml`, so no
domain policies). Its SQL, transforms and file inputs are read from the component's folder; the
port addresses it reads resolve among the project's other DataProduct components. The mesh's own
domains load every `product.yaml` through this class too (`platform_core.dagster.factory`).

`dg scaffold defs platform_core.DataProduct <path>` writes a `defs.yaml` beside the product's SQL
and sample data, from the same templates as `mesh new product`; it loads and materializes with no
edits. In a mesh of domains (this repository) products are `product.yaml` files in their domain's
folder, and `mesh new product` makes them: `dg scaffold defs` says so rather than write a second
kind of descriptor there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click
import dagster as dg
from pydantic import BaseModel, Field

from platform_core.dagster.product import product_definitions
from platform_core.descriptors.loader import load_component
from platform_core.descriptors.mesh_index import COMPONENT_FILE, MeshIndex
from platform_core.descriptors.spec import Domain, Product
from platform_core.errors import PlatformError
from platform_core.governance.evaluate import Violation, govern, raise_errors, warehouse_context
from platform_core.scaffold.plan import ScaffoldError, render_component
from platform_core.settings import Settings


class DataProductScaffoldParams(BaseModel):
    template: Literal["simple", "dimensional"] = Field(
        default="simple", description="simple: one published table; dimensional: two dimensions, a fact and a view."
    )
    domain: str | None = Field(default=None, description="The product's domain [default: the dg project's name].")
    owner: str | None = Field(default=None, description="Owning team, as team:<slug> [default: team:<domain>].")
    contact: str | None = Field(
        default=None, description="Contact e-mail of the owning team [default: git's user.email]."
    )


class DataProductScaffolder(dg.Scaffolder[DataProductScaffoldParams]):
    """Writes a product from the templates `mesh new product` uses (platform_core/scaffold/templates)."""

    @classmethod
    def get_scaffold_params(cls) -> type[DataProductScaffoldParams]:
        return DataProductScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[DataProductScaffoldParams]) -> None:
        params, target = request.params, request.target_path.resolve()
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # dg makes the folder first; the product is written whole, in its place
        try:
            if (mesh := _mesh_of(target)) is not None:
                raise ScaffoldError(_use_mesh_new(mesh, target, params.template))
            project = request.project_root or target.parent
            render_component(
                target,
                project_name=project.name,
                template=params.template,
                domain=params.domain,
                owner=params.owner,
                contact=params.contact,
            )
        except (ScaffoldError, PlatformError) as error:  # said as dg says any refusal, without a traceback
            raise click.ClickException(str(error)) from None


def _mesh_of(target: Path) -> Path | None:
    """The `domains` folder of a mesh (a project with a workspace.yaml) that `target` lies in."""
    for folder in target.parents:
        if folder.name == "domains" and (folder.parent / "workspace.yaml").is_file():
            return folder
    return None


def _use_mesh_new(domains: Path, target: Path, template: str) -> str:
    """Why a product of a mesh is not a component, and the command that makes one."""
    parts = target.relative_to(domains).parts
    command = (
        f"mesh new product {parts[0]} {parts[2]} --template {template}"
        if len(parts) == 3 and parts[1] == "products"
        else f"mesh new product <domain> <name> --template {template}"
    )
    return (
        f"refused: {target} is in a mesh of domains, whose products are domains/<domain>/products/<name>/"
        f"product.yaml (the DataProduct model, loaded by the domain's code location); create it with: {command}. "
        "Nothing was written."
    )


@dg.scaffold_with(DataProductScaffolder)
class DataProduct(Product, dg.Component):
    """A data product: steps (SQL or pandas) from sources to published output ports, each port
    under a contract (columns, quality rules, freshness SLA, version), audited on every run and
    published whole to the lake or not at all, governed by the mesh's policies."""

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return Product  # the attributes are the product descriptor: one model

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> DataProduct:
        if not isinstance(attributes, Product):
            raise dg.DagsterInvalidDefinitionError(
                f"{context.path / COMPONENT_FILE}: a DataProduct needs "
                "attributes: the product descriptor (docs/descriptors.md)"
            )
        index = MeshIndex.of_defs_folder(context.defs_module_path)
        return cls.of(load_component(attributes, context.path / COMPONENT_FILE, index))

    @classmethod
    def of(cls, product: Product) -> DataProduct:
        """The component of a loaded product (the same values; nothing is validated again)."""
        fields = {name: getattr(product, name) for name in type(product).model_fields}
        return cls.model_construct(_fields_set=product.model_fields_set, **fields)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Governed as a domain of its own (global policies), then compiled."""
        settings = Settings.from_env()
        domain = Domain(
            name=self.domain,
            title=self.domain,
            description=self.description,
            owner=self.owner,
            products=(self,),
            directory=self.directory,
            mesh=self.mesh,
        )
        violations = govern(domain, warehouse_context(MeshIndex.of(self), settings.warehouse()))
        raise_errors(domain, violations)
        return self.definitions(settings, [v for v in violations if v.severity == "warn"])

    def definitions(self, settings: Settings, warnings: list[Violation], follow: bool = True) -> dg.Definitions:
        """The product's assets, checks, schedule, automation and resources (and, with `follow`, the
        sensor that follows the ports it reads: a domain has one for all its products)."""
        return product_definitions(self, settings, warnings, follow)
