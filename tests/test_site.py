"""The docs site: a page for every domain and product, no broken link, status in words, and
in a real browser, the search and the flagship product's page as a business reader sees them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from platform_core.catalog.health import CheckResult, ProductHealth
from platform_core.catalog.mesh import Mesh, dependency_rows, load_mesh
from platform_core.catalog.site import SiteError, build_site
from platform_core.descriptors.spec import Grant, PreviousMajor, Product
from tests.browser import BROWSER_FLAGS, chromium_or_skip
from tests.conftest import PROJECT

BUILT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
FLAGSHIP = "hr.overtime"
WAIT_MS = 10_000  # pages are local files: anything slower than this is a failure, not slowness
HEALTH = {
    FLAGSHIP: ProductHealth(
        address=FLAGSHIP,
        state="failing_checks",
        reasons=("2 blocking checks failed on payroll_compensation: the previous version stays published",),
        last_materialized=datetime(2026, 3, 2, 6, 4, tzinfo=UTC),
        freshness="pass",
        checks=(
            CheckResult("hr.overtime.payroll_compensation", "bands_add_up", False, "ERROR", "3 rows do not add up"),
            CheckResult("hr.overtime.payroll_compensation", "paid_hours_are_paid", False, "ERROR"),
            CheckResult("hr.overtime.fact_overtime", "unique_overtime_id", True, "ERROR"),
        ),
    )
}


@pytest.fixture(scope="module")
def mesh() -> Mesh:
    loaded = load_mesh(PROJECT / "workspace.yaml")
    assert loaded.problems == ()
    return loaded


@pytest.fixture(scope="module")
def site(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(mesh, tmp_path_factory.mktemp("docs") / "site", HEALTH, generated_at=BUILT).parent


class _Page(HTMLParser):
    """What the tests read in a page: its language, title, ids, links and text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.lang, self.title, self.ids, self.links, self.words = None, "", set(), [], []
        self._in_title = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.lang = values.get("lang") if tag == "html" else self.lang
        self._in_title = tag == "title" and self.title == ""
        self.ids.update(v for k, v in attrs if k == "id" and v)
        self.links += [v for k, v in attrs if k in ("href", "src") and v is not None]

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.words.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def _broken_links(site: Path) -> list[str]:
    """Every link of every page (and of the search index) that does not reach a file, or an anchor in it."""
    pages = {path: _Page(path) for path in site.rglob("*.html")}
    index = json.loads(
        (site / "assets" / "search-index.js")
        .read_text()
        .removeprefix("window.MESH_SEARCH_INDEX = ")
        .rstrip()
        .removesuffix(";")
    )
    links = [(page, link) for page, parsed in pages.items() for link in parsed.links]
    links += [(site / "index.html", entry["url"]) for entry in index]
    broken = []
    for page, link in links:
        parts = urlsplit(link)
        if parts.scheme == "mailto":
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if parts.scheme or parts.netloc or not target.is_file() or not target.is_relative_to(site.resolve()):
            broken.append(f"{page.relative_to(site)}: {link}")  # outside the site, or missing
        elif parts.fragment and parts.fragment not in (pages.get(target) or _Page(target)).ids:
            broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    return broken


def test_every_domain_and_product_has_a_page_with_a_language_and_a_title(mesh: Mesh, site: Path) -> None:
    expected = {
        "index.html",
        *(f"domains/{d.name}.html" for d in mesh.domains),
        *(f"products/{p.domain}.{p.name}.html" for p in mesh.products),
    }
    assert {str(p.relative_to(site)) for p in site.rglob("*.html")} == expected
    for path in site.rglob("*.html"):
        page = _Page(path)
        assert page.lang == "en" and page.title.strip(), path
        assert "main" in page.ids, path  # the skip link's target
    product = _Page(site / "products" / f"{FLAGSHIP}.html")
    assert {f"port-{port}" for port in ("payroll_compensation", "dim_employee", "overtime_analysis")} <= product.ids


def test_no_link_is_broken_and_nothing_comes_from_the_network(site: Path) -> None:
    assert _broken_links(site) == []


def test_a_product_page_shows_its_status_in_words(site: Path) -> None:
    text = _Page(site / "products" / f"{FLAGSHIP}.html").text
    start = text.index("Is it fresh and sound?")
    status = text[start : text.index("Lineage", start)]
    assert "Failing checks" in status and HEALTH[FLAGSHIP].reasons[0] in status
    assert "1 passed, 2 failed" in status and "2026-03-02 06:04 UTC" in status
    checks = text[text.index("Quality checks 3 checks") :]  # folded at the end, open when one failed
    assert "failed bands_add_up" in checks and "failed paid_hours_are_paid" in checks
    assert checks.index("paid_hours_are_paid") < checks.index("passed unique_overtime_id")  # failures first
    other = _Page(site / "products" / "sales.orders.html").text
    assert "the Dagster instance knows nothing of this product" in other


def test_a_product_page_reads_in_the_order_a_reader_asks(site: Path) -> None:
    """What it is for and how to read it first, who uses it, its state; the checks folded, last."""
    text = (site / "products" / "hr.overtime.html").read_text(encoding="utf-8")
    order = ['id="read"', 'id="consumers"', 'id="status"', 'id="lineage"', 'id="inputs"', 'id="ports"', 'id="checks"']
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "SELECT * FROM hr.payroll_compensation" in text
    checks = text[text.index('id="checks"') :]
    assert "<details" in checks and '<table class="checks">' in checks
    assert 'class="checks"' not in text[: text.index('id="checks"')]
    inputs = text[text.index('id="inputs"') : text.index('id="ports"')]
    assert inputs.count("ingests as delivered") == 4  # every file input says why it is there


def test_without_an_instance_every_product_page_says_status_is_not_available(mesh: Mesh, tmp_path: Path) -> None:
    site = build_site(mesh, tmp_path / "site", generated_at=BUILT).parent
    for product in mesh.products:
        text = _Page(site / "products" / f"{product.domain}.{product.name}.html").text
        assert "Status not available: this site was built without a Dagster instance" in text
        assert "Failing checks" not in text
    assert "Built without a Dagster instance" in _Page(site / "index.html").text


def test_the_same_inputs_give_the_same_site_and_a_rebuild_drops_removed_products(mesh: Mesh, tmp_path: Path) -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    out = tmp_path / "docs" / "site"
    build_site(mesh, out, HEALTH, generated_at=BUILT)
    first = files(out)
    build_site(mesh, out, HEALTH, generated_at=BUILT)
    assert files(out) == first

    # without hr, its pages go, and finance's inputs from hr are named but lead nowhere
    without_hr = replace(mesh, domains=tuple(d for d in mesh.domains if d.name != "hr"))
    build_site(without_hr, out, generated_at=BUILT)
    assert not list(out.glob("products/hr.*")) and not (out / "domains" / "hr.html").exists()
    assert "hr.overtime.fact_overtime" in _Page(out / "products" / "finance.overtime_cost_ratio.html").text
    assert _broken_links(out) == []
    assert sorted(p.name for p in out.parent.iterdir()) == [".site.lock", "site"]  # no half-built leftovers


def test_a_restricted_port_lists_its_grants_and_a_previous_major_is_announced(mesh: Mesh, tmp_path: Path) -> None:
    def granted(product: Product) -> Product:
        if product.product_address != FLAGSHIP:
            return product
        ports = tuple(
            port.model_copy(
                update={"grants": (Grant(consumer="finance.overtime_accruals", purpose="Costs.", personal=True),)}
            )
            if port.access == "restricted"
            else port
            for port in product.output_ports
        )
        previous = PreviousMajor(version="0.9.0", sunset=date(2026, 6, 30))
        return product.model_copy(update={"output_ports": ports, "previous": previous})

    domains = tuple(d.model_copy(update={"products": tuple(granted(p) for p in d.products)}) for d in mesh.domains)
    site = build_site(Mesh(domains, ()), tmp_path / "site", generated_at=BUILT).parent
    text = _Page(site / "products" / f"{FLAGSHIP}.html").text
    assert (
        "Products and groups granted dim_employee Product or group Purpose Personal data "
        "finance.overtime_accruals Costs. in clear"
    ) in text
    assert "0.9.0, still published beside this one until 2026-06-30" in text
    assert _broken_links(site) == []


def test_a_folder_the_platform_did_not_build_is_never_replaced(mesh: Mesh, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(SiteError, match="not a site built by the platform"):
        build_site(mesh, tmp_path / "notes", generated_at=BUILT)
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.txt"]


def test_descriptor_text_is_escaped_everywhere(mesh: Mesh, tmp_path: Path) -> None:
    attack = '<script>alert("x")</script> & <b>bold</b>'
    domains = tuple(
        d.model_copy(
            update={
                "products": tuple(p.model_copy(update={"description": attack, "title": attack}) for p in d.products)
            }
        )
        for d in mesh.domains
    )
    site = build_site(
        Mesh(domains, (f"domains/broken/domain.yaml: {attack}",)), tmp_path / "site", generated_at=BUILT
    ).parent
    for path in [*site.rglob("*.html"), site / "assets" / "search-index.js"]:
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<b>bold" not in text, path
    assert attack in _Page(site / "index.html").text  # shown as text, not lost


# --- in a browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_FLAGS, timeout=60_000)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 1000})
            tab.set_default_timeout(WAIT_MS)
            yield tab
        finally:
            browser.close()


def test_searching_payroll_finds_the_payroll_compensation_port_of_hr_overtime(site: Path, page: Page) -> None:
    page.goto((site / "index.html").as_uri())
    page.get_by_role("searchbox").fill("payroll")
    hit = page.locator("#search-results").get_by_role("link", name="HR Overtime / payroll_compensation")
    expect(hit).to_be_visible(timeout=WAIT_MS)
    hit.click()
    page.wait_for_url("**/products/hr.overtime.html#port-payroll_compensation")

    page.goto((site / "index.html").as_uri())
    page.get_by_role("searchbox").fill("amount_to_pay")  # a column name finds its port
    expect(page.locator("#search-results li")).to_have_count(1, timeout=WAIT_MS)
    page.get_by_role("searchbox").fill("no such thing anywhere")
    expect(page.locator("#search-status")).to_have_text("No product or port matches.", timeout=WAIT_MS)


def test_the_hr_overtime_page_shows_owner_consumers_columns_and_lineage(mesh: Mesh, site: Path, page: Page) -> None:
    (product,) = [p for p in mesh.products if f"{p.domain}.{p.name}" == FLAGSHIP]
    page.goto((site / "products" / f"{FLAGSHIP}.html").as_uri())
    main = page.locator("main")
    expect(page).to_have_title(f"{product.title} · Data mesh catalog", timeout=WAIT_MS)
    assert product.owner.name == "HR Data" and product.owner.contact == "hr-data@example.com"
    expect(main.locator(f'a[href="mailto:{product.owner.contact}"]').first).to_be_visible(timeout=WAIT_MS)
    expect(main).to_contain_text(f"{product.owner.name} (team {product.owner.team})", timeout=WAIT_MS)

    consumers = page.locator("#consumers tbody tr")
    expect(consumers).to_have_count(len(product.consumers), timeout=WAIT_MS)
    for row, consumer in zip(consumers.all(), product.consumers, strict=True):
        expect(row).to_contain_text(consumer.name, timeout=WAIT_MS)
        expect(row).to_contain_text(consumer.purpose, timeout=WAIT_MS)

    (port,) = [p for p in product.output_ports if p.name == "payroll_compensation"]
    dictionary = page.locator("#port-payroll_compensation table.dictionary tbody tr")
    assert [row.locator("th").inner_text() for row in dictionary.all()] == [c.name for c in port.columns]
    assert [row.locator("td").first.inner_text() for row in dictionary.all()] == [c.type for c in port.columns]

    readers = sorted(
        {
            str(r["consumer"])
            for r in dependency_rows(mesh)
            if f"{r['producer_domain']}.{r['producer_product']}" == FLAGSHIP
        }
    )
    assert readers and all(r.startswith("finance.") for r in readers)
    boxes = page.locator("#lineage svg a")
    expect(boxes).to_have_count(len(readers), timeout=WAIT_MS)
    assert sorted(box.get_attribute("href") for box in boxes.all()) == [f"{r}.html" for r in readers]
    boxes.first.click()
    page.wait_for_url(f"**/products/{readers[0]}.html")
    expect(page.locator("#lineage svg .node.current")).to_contain_text(readers[0], timeout=WAIT_MS)
