"""The Jinja2 environment, page writing and the shared offline assets (plotly.js, the chart loader)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import markdown as md
import plotly
from markupsafe import Markup, escape

from core.files import write_public

ASSETS_DIR = "assets"  # beside the pages: HOME/reports/assets/
_STATIC = ("charts.js",)


@cache
def _environment() -> jinja2.Environment:
    # autoescape for every template (they are all HTML); StrictUndefined: a missing value is a bug,
    # not a blank cell.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    """Render `reports/templates/<template>` with `context` (values escaped)."""
    return _environment().get_template(template).render(**context)


def markdown_html(text: str) -> Markup:
    """A Markdown body as HTML, safe to place in a template. Raw HTML in the text is escaped first, so
    only Markdown markup renders (a value in a table cannot become a tag)."""
    return Markup(md.markdown(str(escape(text)), extensions=["tables"], output_format="html"))


def _plotly_js() -> bytes:
    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def copy_assets(folder: Path) -> Path:
    """Put plotly.js and the chart loader in `folder/assets/` (only when missing or changed); return it."""
    target = folder / ASSETS_DIR
    target.mkdir(parents=True, exist_ok=True)
    wanted = {"plotly.min.js": _plotly_js()}
    wanted |= {name: files("reports").joinpath("static", name).read_bytes() for name in _STATIC}
    for name, data in wanted.items():
        path = target / name
        if path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest():
            continue
        write_public(path, data)
    return target


def write_page(path: Path, html: str, *, assets: Path | None = None) -> Path:
    """Write `html` to `path` (atomic, public); with `assets`, copy the shared assets into that folder."""
    if assets is not None:
        copy_assets(assets)
    return write_public(path, html.encode("utf-8"))
