"""Every human-facing page, rendered one way: Jinja2 templates (autoescape on) and Plotly charts.

Public face:

* `render(template, **context)` - a page from `reports/templates/`, every value escaped;
* `write_page(path, html, assets=...)` - write it (atomically, public) and put the shared assets
  (plotly.js from the `plotly` package, the chart loader) once in `assets/` beside it;
* `charts` - figure builders (dicts in Plotly's JSON form) the pages embed and `charts.js` draws;
* `markdown_html(text)` - a Markdown body (model card, transparency report) as escaped HTML;
* `serve.server(reports, port)`, `page_url(...)` - `phm reports serve` and the links Dagster shows.

This unit renders what it is given: it reads no data, computes no counts from records, and every
figure it receives is already disclosure-controlled by the caller (`core.disclosure`). Charts work
offline: plotly.js is copied from the installed package, never fetched from a CDN.
"""

from reports import charts
from reports.env import ASSETS_DIR, copy_assets, markdown_html, render, write_page
from reports.serve import DEFAULT_PORT, page_url

__all__ = [
    "ASSETS_DIR",
    "DEFAULT_PORT",
    "charts",
    "copy_assets",
    "markdown_html",
    "page_url",
    "render",
    "write_page",
]
