"""The architecture as data, and an `ast` walk over every product module that fails when an import breaks it.

Data flows one way through the packages (docs/architecture.md, "Packages and the flow"). Each entry of
`FLOW` is a unit of that picture: a package, or a subpackage that sits at its own place in the flow
(`linkage.warehouse` after `pseudonymisation`, `pseudonymisation.release` after `cohort`). A module
belongs to the unit of the longest prefix that names it. A unit may import itself and any earlier unit,
never a later one. Beside the flow: `bench` (benchmarks and truth, may import anything) and `synthetic`
(the simulator, which writes the formats the domain stages define and is imported only by `bench`, itself
and the CLI's generate/demo modules). Dagster is imported only by `pipelines`. Every import counts: at
module level, inside functions, under `TYPE_CHECKING`, and `importlib.import_module("...")` with a
literal name.

The walker is tested on small inline trees first, so a rule that finds nothing on the product has been
seen to find something.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from tests.fixtures.import_walk import Import, is_module, scan

ROOT = Path(__file__).resolve().parents[1]

# The flow, earliest first. A unit may import itself and earlier units, never a later one.
FLOW: tuple[str, ...] = (
    "core",  # leaf: installation layout, errors and exit codes, private/public files, disclosure
    "connectors",  # read, type, normalise, quarantine, opt-outs at source, reconciliation counts
    "linkage",  # tracing: records without a valid NHS number against the GP demographic master
    "pseudonymisation",  # keys, HMAC tokens, AES-GCM vault, de-identification
    "linkage.warehouse",  # DuckDB SQL that builds and atomically publishes the warehouse
    "reports",  # Jinja2 templates and Plotly charts for every human-facing page; reads no data
    "quality",  # expectations per source and on the warehouse, dq_results, the report
    "cohort",  # features, risk model, tiers, segments, cohorts, published cohort tables
    "pseudonymisation.release",  # governed re-identification, extracts, transparency, audit log
    "load",  # the load workflow: ingest, trace, tokenise, publish, reconcile
    "pipelines",  # Dagster: thin assets, checks, jobs and sensors over the units above
    "phm",  # the `phm` command line
)
# Beside the flow: who may import what (None: anything in the product).
ASIDE: dict[str, tuple[str, ...] | None] = {
    "bench": None,
    "synthetic": FLOW[: FLOW.index("load")],
}
UNITS: tuple[str, ...] = (*FLOW, *ASIDE)
PACKAGES: tuple[str, ...] = tuple(sorted({u.split(".")[0] for u in UNITS}))
# The only modules (or packages, with everything under them) that may import these.
DAGSTER_IMPORTERS: tuple[str, ...] = ("pipelines",)
SYNTHETIC_IMPORTERS: tuple[str, ...] = ("bench", "synthetic", "phm.cli", "phm.demo")
# Top-level packages ignored when looking for product packages in the repository root.
NOT_PRODUCT = frozenset({"tests"})


@cache
def product_imports() -> tuple[Import, ...]:
    return tuple(scan(ROOT, PACKAGES))


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def unit_of(module: str) -> str | None:
    """The unit of the picture a module belongs to (longest prefix), or None outside the product."""
    matches = [u for u in UNITS if _within(module, (u,))]
    return max(matches, key=len) if matches else None


def _is_dagster(module: str) -> bool:
    top = module.split(".")[0]
    return top == "dagster" or top.startswith("dagster_")


def core_violations(imports: Iterable[Import]) -> list[str]:
    """(a) `core` is a leaf: it imports no project package."""
    return [
        f"{i}: core imports no project package"
        for i in imports
        if unit_of(i.importer) == "core" and unit_of(i.imported) not in (None, "core")
    ]


def dagster_violations(imports: Iterable[Import]) -> list[str]:
    """(b) Only `pipelines` imports Dagster (`dagster`, `dagster_*`), at any depth of a module."""
    return [
        f"{i}: only {', '.join(DAGSTER_IMPORTERS)} may import Dagster"
        for i in imports
        if _is_dagster(i.imported) and not _within(i.importer, DAGSTER_IMPORTERS)
    ]


def synthetic_violations(imports: Iterable[Import]) -> list[str]:
    """(c) Only `bench`, `synthetic` itself and the CLI's generate/demo modules import the simulator."""
    return [
        f"{i}: only {', '.join(SYNTHETIC_IMPORTERS)} may import synthetic"
        for i in imports
        if _within(i.imported, ("synthetic",)) and not _within(i.importer, SYNTHETIC_IMPORTERS)
    ]


def flow_violations(imports: Iterable[Import]) -> list[str]:
    """(d) The flow goes one way: no unit imports a later one; the units beside it keep to their lists."""
    out: list[str] = []
    for i in imports:
        src, dst = unit_of(i.importer), unit_of(i.imported)
        if src is None or dst is None or src == dst:
            continue
        if src in ASIDE:
            allowed = ASIDE[src]
            if allowed is not None and dst not in allowed:
                out.append(f"{i}: {src} may import only {', '.join(allowed)}")
        elif dst in ASIDE:
            continue  # who may import synthetic is rule (c); bench is imported by no unit of the flow
        elif FLOW.index(dst) > FLOW.index(src):
            out.append(f"{i}: {dst} comes after {src} in the flow")
    return out


def bench_importer_violations(imports: Iterable[Import]) -> list[str]:
    """(d) `bench` sits at the end: only the CLI runs it, no domain unit imports it."""
    return [
        f"{i}: only phm may import bench"
        for i in imports
        if unit_of(i.imported) == "bench" and unit_of(i.importer) not in ("bench", "phm")
    ]


def private_violations(imports: Iterable[Import]) -> list[str]:
    """(d) A private module (`_name`) is imported only from inside the package that holds it."""
    out: list[str] = []
    for i in imports:
        if unit_of(i.imported) is None:
            continue
        parts = i.imported.split(".")
        for n, part in enumerate(parts):
            if part.startswith("_") and not part.startswith("__"):
                owner = ".".join(parts[:n])
                if not _within(i.importer, (owner,)):
                    out.append(f"{i}: {i.imported} is private to {owner}")
                break
    return out


def unit_cycles(imports: Iterable[Import]) -> list[str]:
    """(e) No import cycle between units: each strongly connected group of two or more units, with the
    imports that join it."""
    edges: dict[str, dict[str, Import]] = {u: {} for u in UNITS}
    for i in imports:
        src, dst = unit_of(i.importer), unit_of(i.imported)
        if src and dst and src != dst:
            edges[src].setdefault(dst, i)
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(u: str) -> None:
        index[u] = low[u] = len(index)
        stack.append(u)
        for v in edges[u]:
            if v not in index:
                visit(v)
                low[u] = min(low[u], low[v])
            elif v in stack:
                low[u] = min(low[u], index[v])
        if low[u] == index[u]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == u:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for u in UNITS:
        if u not in index:
            visit(u)
    return [
        f"cycle {' <-> '.join(g)}: " + "; ".join(str(edges[a][b]) for a in g for b in g if b in edges[a])
        for g in sorted(groups)
    ]


def unplaced_packages(root: Path) -> list[str]:
    """Top-level product packages in the repository that the picture does not place."""
    found = {p.parent.name for p in root.glob("*/__init__.py")} - NOT_PRODUCT
    return sorted(found - set(PACKAGES))


def missing_units(root: Path) -> list[str]:
    """Units of the picture with no package in the repository."""
    return [u for u in UNITS if not is_module(root, u)]


# --------------------------------------------------------------------------- the walker, on inline trees
def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_walker_resolves_relative_submodule_function_and_literal_imports(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "linkage/__init__.py": "from .trace import trace\n",
            "linkage/trace.py": "def trace():\n    import dagster as dg\n    return dg\n",
            "linkage/warehouse/__init__.py": "",
            "linkage/warehouse/build.py": "from .. import trace\nfrom . import schema\n",
            "linkage/warehouse/schema.py": (
                "import importlib\nfrom typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from cohort.model import Model\n"
                "x = importlib.import_module('synthetic.names')\n"
            ),
        },
    )
    assert [str(i) for i in scan(root, ["linkage"])] == [
        "linkage/__init__.py:1 linkage imports linkage.trace",
        "linkage/trace.py:2 linkage.trace imports dagster",
        "linkage/warehouse/build.py:1 linkage.warehouse.build imports linkage.trace",
        "linkage/warehouse/build.py:2 linkage.warehouse.build imports linkage.warehouse.schema",
        "linkage/warehouse/schema.py:1 linkage.warehouse.schema imports importlib",
        "linkage/warehouse/schema.py:2 linkage.warehouse.schema imports typing",
        "linkage/warehouse/schema.py:4 linkage.warehouse.schema imports cohort.model",
        "linkage/warehouse/schema.py:5 linkage.warehouse.schema imports synthetic.names",
    ]


def test_each_rule_reports_the_import_that_breaks_it(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/layout.py": "import pathlib\nfrom connectors.spec import EXTRACTS\n",
            "connectors/__init__.py": "",
            "connectors/_bench.py": "",
            "connectors/spec.py": "from linkage.trace import trace\n",
            "linkage/__init__.py": "from linkage.warehouse import build\n",
            "linkage/trace.py": "def trace():\n    from synthetic import names\n",
            "linkage/warehouse/__init__.py": "",
            "linkage/warehouse/build.py": "from linkage.trace import trace\nimport pseudonymisation\n",
            "pseudonymisation/__init__.py": "import linkage.trace\n",
            "cohort/__init__.py": "from dagster_duckdb import DuckDBResource\nimport bench\n",
            "pipelines/__init__.py": "import dagster\nfrom cohort import risk\n",
            "phm/__init__.py": "",
            "phm/cli.py": "from synthetic import generate\nfrom bench import run\n",
            "phm/bench.py": "from connectors._bench import main\nimport synthetic.config\n",
            "bench/__init__.py": "import phm.cli\nimport synthetic\nimport pipelines\n",
            "synthetic/__init__.py": "import connectors.spec\nimport load\n",
            "synthetic/names.py": "",
            "load/__init__.py": "",
        },
    )
    imports = scan(root, PACKAGES)
    assert core_violations(imports) == [
        "core/layout.py:2 core.layout imports connectors.spec: core imports no project package"
    ]
    assert dagster_violations(imports) == [
        "cohort/__init__.py:1 cohort imports dagster_duckdb: only pipelines may import Dagster"
    ]
    assert synthetic_violations(imports) == [
        "linkage/trace.py:2 linkage.trace imports synthetic.names: only bench, synthetic, phm.cli, "
        "phm.demo may import synthetic",
        "phm/bench.py:2 phm.bench imports synthetic.config: only bench, synthetic, phm.cli, phm.demo "
        "may import synthetic",
    ]
    assert flow_violations(imports) == [
        "connectors/spec.py:1 connectors.spec imports linkage.trace: linkage comes after connectors in the flow",
        "core/layout.py:2 core.layout imports connectors.spec: connectors comes after core in the flow",
        "linkage/__init__.py:1 linkage imports linkage.warehouse.build: linkage.warehouse comes after "
        "linkage in the flow",
        "synthetic/__init__.py:2 synthetic imports load: synthetic may import only core, connectors, "
        "linkage, pseudonymisation, linkage.warehouse, reports, quality, cohort, pseudonymisation.release",
    ]
    assert bench_importer_violations(imports) == [
        "cohort/__init__.py:2 cohort imports bench: only phm may import bench"
    ]
    assert private_violations(imports) == [
        "phm/bench.py:1 phm.bench imports connectors._bench: connectors._bench is private to connectors"
    ]
    assert unit_cycles(imports) == [
        "cycle bench <-> cohort <-> phm <-> pipelines: bench/__init__.py:1 bench imports phm.cli; "
        "bench/__init__.py:3 bench imports pipelines; cohort/__init__.py:2 cohort imports bench; "
        "phm/cli.py:2 phm.cli imports bench; pipelines/__init__.py:2 pipelines imports cohort",
        "cycle connectors <-> linkage <-> linkage.warehouse <-> pseudonymisation <-> synthetic: "
        "connectors/spec.py:1 connectors.spec imports linkage.trace; "
        "linkage/__init__.py:1 linkage imports linkage.warehouse.build; "
        "linkage/trace.py:2 linkage.trace imports synthetic.names; "
        "linkage/warehouse/build.py:1 linkage.warehouse.build imports linkage.trace; "
        "linkage/warehouse/build.py:2 linkage.warehouse.build imports pseudonymisation; "
        "pseudonymisation/__init__.py:1 pseudonymisation imports linkage.trace; "
        "synthetic/__init__.py:1 synthetic imports connectors.spec",
    ]
    assert missing_units(root) == ["reports", "quality", "pseudonymisation.release"]
    (root / "reporting").mkdir()
    (root / "reporting" / "__init__.py").write_text("")
    assert unplaced_packages(root) == ["reporting"]


# --------------------------------------------------------------------------- the product
def test_the_walk_sees_the_product() -> None:
    """The rules below pass by finding nothing; this shows the walk found the product's imports."""
    imports = product_imports()
    assert {unit_of(i.importer) for i in imports} >= {"core", "connectors", "linkage", "pipelines", "phm"}
    assert any(i.importer.startswith("pipelines.") and _is_dagster(i.imported) for i in imports)


def test_core_is_a_leaf() -> None:
    assert core_violations(product_imports()) == []


def test_only_pipelines_imports_dagster() -> None:
    assert dagster_violations(product_imports()) == []


def test_only_bench_and_the_cli_generate_and_demo_import_synthetic() -> None:
    assert synthetic_violations(product_imports()) == []


def test_the_flow_goes_one_way() -> None:
    assert flow_violations(product_imports()) == []


def test_bench_is_run_only_from_the_cli() -> None:
    assert bench_importer_violations(product_imports()) == []


def test_no_private_module_of_another_package_is_imported() -> None:
    assert private_violations(product_imports()) == []


def test_no_import_cycle_between_units() -> None:
    assert unit_cycles(product_imports()) == []


def test_every_product_package_has_a_place_in_the_picture() -> None:
    assert unplaced_packages(ROOT) == []


def test_every_unit_of_the_picture_exists() -> None:
    assert missing_units(ROOT) == []
