"""Stage 6: apply the trace, re-check opt-outs, tokenise via the load's token map and de-identify."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

import linkage
from connectors.spec import GP_SOURCES
from core.layout import Home
from linkage.cluster import CLUSTER_ID, record_keys
from linkage.linkage_quality import CLUSTER_METHOD
from linkage.review import RECORD_KEY
from load.cluster import read_membership
from load.files import map_files, staged_months, write_parquet
from load.ingest import StageCounts
from load.reconcile import final_reconciliation, record_trace_opt_outs
from load.registers import Registers
from load.trace import TRACE_SCHEMA, untraced
from pseudonymisation import KeyProvider, LineageTokeniser, LsoaLookup, Tokeniser, TokenMap, deidentify

# Columns that identify a person locally (stable across refreshes) and seed their persistent pseudo-ID.
LOCAL_IDS: dict[str, str] = {"asc_cld": "la_person_id"}
# The pseudo-ID namespace of a cluster of untraced records (one person across sources and months).
CLUSTER_NAMESPACE = "cluster"
# How a record got its NHS number when its cluster of untraced records held one known person.
CLUSTERED = CLUSTER_METHOD  # one spelling, read back by linkage_rates


def _clustered(records: pl.DataFrame, clusters: pl.DataFrame | None, had_number: pl.Series) -> pl.DataFrame:
    """(cluster_id, nhs_number, link_confidence) of each row of `records`, null where the row had a
    number or no cluster holds it (`load.cluster`: a cluster linked to one known person has a number).

    Keys are made for the rows without a number only: the normalisation costs per row."""
    schema = {CLUSTER_ID: pl.String, "nhs_number": pl.String, "link_confidence": pl.Float64}
    rows = pl.DataFrame({"_row": pl.int_range(records.height, eager=True, dtype=pl.UInt32)})
    if clusters is None:
        return rows.with_columns(pl.lit(None, t).alias(c) for c, t in schema.items()).drop("_row")
    without = records.with_row_index("_row").filter(~had_number)
    keys = without.select("_row", record_keys(without).alias(RECORD_KEY))
    found = keys.join(clusters.select(RECORD_KEY, *schema), on=RECORD_KEY, how="inner")
    return rows.join(found.drop(RECORD_KEY), on="_row", how="left", maintain_order="left").drop("_row")


def _traced(records: pl.DataFrame, traced: pl.DataFrame, had_number: pl.Series) -> pl.DataFrame:
    """(nhs_number, link_method, link_confidence) the pooled trace gives each row of `records`, null
    where the row had a number or tracing found none.

    Only the rows without a number are joined: the join is on six demographic columns, and most rows
    of a file already carry a number (joining them all was most of apply_trace's time)."""
    rows = pl.DataFrame({"_row": pl.int_range(records.height, eager=True, dtype=pl.UInt32)})
    without = untraced(records).with_columns((~had_number).arg_true().cast(pl.UInt32).alias("_row"))
    found = without.join(traced, on=list(TRACE_SCHEMA), how="inner", nulls_equal=True)
    found = found.select("_row", "nhs_number", "link_method", "link_confidence")
    return rows.join(found, on="_row", how="left", maintain_order="left").drop("_row")


def apply_trace(
    records: pl.DataFrame,
    traced: pl.DataFrame,
    tokeniser: Tokeniser,
    source: str,
    clusters: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Fill NHS numbers from the pooled trace, then from the cluster of untraced records (`load.cluster`)
    when it holds one known person; the rest get their cluster's persistent pseudo-ID, shared by every
    source and month the person appears in. A row no cluster holds (no demographics at all, or a home
    whose clustering has not run) keeps the per-source key of `linkage.pseudo_keys`."""
    had_number = records.get_column("nhs_number").is_not_null()
    found = _traced(records, traced, had_number)
    traced_number = found.get_column("nhs_number").is_not_null()
    cluster = _clustered(records, clusters, had_number | traced_number)
    out = records.with_columns(
        pl.when(had_number).then(pl.col("nhs_number")).otherwise(found["nhs_number"].fill_null(cluster["nhs_number"]))
        .alias("nhs_number"),
        pl.when(had_number).then(pl.lit("nhs_number"))
        .when(cluster["nhs_number"].is_not_null()).then(pl.lit(CLUSTERED))
        .otherwise(found["link_method"].fill_null("unmatched")).alias("link_method"),
        pl.when(had_number).then(1.0).otherwise(found["link_confidence"].fill_null(cluster["link_confidence"])
        .fill_null(0.0)).alias("link_confidence"),
    )  # fmt: skip
    # Pseudo-IDs only for the rows still without a number (HMAC work scales with them, not the file).
    out = out.with_columns(cluster[CLUSTER_ID].alias("_cluster")).with_row_index("_row")
    still_untraced = out.filter(pl.col("nhs_number").is_null())
    local_keys = linkage.pseudo_keys(still_untraced, namespace=source, local_id=LOCAL_IDS.get(source))
    own = tokeniser.pseudo_id(source, local_keys)
    shared = tokeniser.pseudo_id(CLUSTER_NAMESPACE, still_untraced.get_column("_cluster"))
    pseudo = still_untraced.select("_row", shared.fill_null(own).alias("pseudo_id"))
    return out.join(pseudo, on="_row", how="left", maintain_order="left").drop(
        "_row", "_cluster", *LOCAL_IDS.values(), strict=False
    )


def pseudonymise_source(source: str, home: Home, keys: KeyProvider, registers: Registers) -> StageCounts:
    """Trace, re-check opt-outs, tokenise (via the load's token map) and de-identify every staged month.

    Traced records can turn out to belong to someone who opted out: they are dropped here and the
    file's reconciliation moves them from loaded to opted out, so the books still balance.
    """
    return pseudonymise_sources([source], home, keys, registers)[source]


def pseudonymise_sources(
    sources: Iterable[str], home: Home, keys: KeyProvider, registers: Registers
) -> dict[str, StageCounts]:
    """`pseudonymise_source` for several sources at once: each source's counts, by source.

    Every staged month of every source goes through one pool of `map_files` workers, largest file first,
    and the lookups (trace, clusters, token map, postcodes) are read once for all of them. Run source by
    source, each source's last files left a core idle while the slowest finished, nine times a load.
    Each file's outputs are exactly those of `pseudonymise_source`; a failing file raises as there.
    """
    sources = list(sources)
    needs_trace = any(source not in GP_SOURCES for source in sources)
    traced = pl.read_parquet(home.trace_results) if needs_trace else None
    clusters = read_membership(home) if needs_trace else None
    tokeniser = Tokeniser(keys.token_key(), domain="warehouse")
    lineage = LineageTokeniser(keys.lineage_key())
    # Deleted by the publish stage; a source re-run on its own tokenises directly (same tokens).
    token_map = TokenMap(pl.read_parquet(home.token_map)) if home.token_map.exists() else None
    lsoa = LsoaLookup(registers.postcode_lsoa)  # normalised once, not once per file
    # The vault was filled once for the whole load by `build_token_map`.

    def one(item: tuple[str, str]) -> tuple[pl.DataFrame, dict[str, int]]:
        source, month = item
        records = pl.read_parquet(home.staged(source, month))
        links: dict[str, int] = {}
        if source not in GP_SOURCES:
            assert traced is not None  # read above whenever a non-GP source is asked for
            records = apply_trace(records, traced, tokeniser, source, clusters)
            links = dict(records.group_by("link_method").len().iter_rows())
        else:
            records = records.with_columns(link_method=pl.lit("nhs_number"), link_confidence=pl.lit(1.0))
        kept, removed = registers.opt_outs.apply(records, source=source)
        out = deidentify(kept, tokeniser, lsoa, token_map=token_map, lineage=lineage)
        write_parquet(out, home.pseudo_staged(source, month))
        record_trace_opt_outs(home, source, month, removed)
        rec = final_reconciliation(home, source, month, removed)
        write_parquet(rec, home.ops("reconciliation", source, month))
        return rec, links

    months = {source: staged_months(home, source) for source in sources}
    # Largest first (size, then name: the same order every run), so no long file starts last.
    items = sorted(
        ((s, m) for s in sources for m in months[s]),
        key=lambda item: (-home.staged(*item).stat().st_size, item),
    )
    done = dict(zip(items, map_files(one, items), strict=True))
    return {source: _counts(done[source, month] for month in months[source]) for source in sources}


def _counts(results: Iterable[tuple[pl.DataFrame, dict[str, int]]]) -> StageCounts:
    """A source's counts from its files' final books and link methods, in month order."""
    total = StageCounts()
    for rec, links in results:
        for method, rows in links.items():
            total.extra[f"link/{method}"] = total.extra.get(f"link/{method}", 0) + rows
        total.loaded += int(rec["loaded"].sum())
        total.opted_out += int(rec["opted_out"].sum())
        total.rows_in += int(rec["rows_in"].sum())
        total.quarantined += int(rec["quarantined"].sum())
        total.excluded += int(rec["excluded"].sum())
    return total
