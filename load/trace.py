"""Stages 3-4: the GP demographic master, and tracing every record without a valid NHS number."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

import linkage
from connectors.landing import dbs_response_stem, dbs_responses, read_regular
from connectors.spec import EXTRACTS, GP_SOURCES
from core.files import make_parents, write_private
from core.layout import Home
from linkage import dbs, review
from linkage.linkage_quality import NATIONAL_METHOD
from linkage.trace import UNMATCHED
from load.files import staged_months, write_parquet


def build_gp_master(home: Home) -> int:
    """Build the GP demographic master from every staged gp_patients month; returns its row count."""
    files = [home.staged("gp_patients", m) for m in staged_months(home, "gp_patients")]
    if not files:
        raise FileNotFoundError("no staged gp_patients records: the GP master cannot be built")
    patients = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    master = linkage.build_master(patients)
    write_parquet(master, home.gp_master)
    return master.height


TRACE_COLUMNS: tuple[str, ...] = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")
TRACE_SCHEMA = {
    "given_name": pl.String, "family_name": pl.String, "date_of_birth": pl.Date, "sex": pl.String,
    "postcode": pl.String, "address": pl.String,
}  # fmt: skip


def untraced(frame: pl.DataFrame) -> pl.DataFrame:
    """The demographics of rows without a valid NHS number, with every trace column present."""
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in TRACE_SCHEMA.items() if c not in frame.columns]
    return (
        frame.filter(pl.col("nhs_number").is_null())
        .with_columns(missing)
        .select([pl.col(c).cast(t) for c, t in TRACE_SCHEMA.items()])
    )


def _read_untraced(path: Path) -> pl.DataFrame:
    """Only the rows without an NHS number, and only their trace columns, read from a staged file."""
    scan = pl.scan_parquet(path)
    present = set(scan.collect_schema().names())
    columns = [c for c in ("nhs_number", *TRACE_SCHEMA) if c in present]
    return scan.filter(pl.col("nhs_number").is_null()).select(columns).collect()


@dataclass(frozen=True)
class NationalTracing:
    """The DBS round trip of a load: where responses arrive, and who answers a request at once.

    ``answer(request, landing)`` is the demo's synthetic national service (`phm/demo.py`); a real
    installation has none: its DBS client sends the request and drops the response into
    ``landing/dbs/``, and the next run applies it.
    """

    landing: Path
    answer: Callable[[Path, Path], object] | None = None


def trace_records(
    home: Home, *, probabilistic: bool = True, seed: int = 42, national: NationalTracing | None = None
) -> dict[str, int]:
    """Trace every record without a valid NHS number, across all sources, in one pass.

    Records are pooled and de-duplicated on their demographics first, so each distinct person-description
    is traced once (exact passes, then Splink) and the probabilistic model is trained once per run. The
    result — demographics -> NHS number, method, confidence — stays in the identifiable zone; pairs in the
    uncertainty band go to the clerical review file, whose decisions are honoured on the next run.
    With ``national``, what is still untraced goes through the DBS round trip (`national_trace`).
    """
    master = pl.read_parquet(home.gp_master)
    frames = [
        untraced(_read_untraced(home.staged(source, month)))
        for source in EXTRACTS
        if source not in GP_SOURCES
        for month in staged_months(home, source)
    ]
    pooled = pl.concat(frames).unique(maintain_order=True) if frames else pl.DataFrame(schema=TRACE_SCHEMA)
    pooled = pooled.sort(list(TRACE_SCHEMA), nulls_last=True)
    passes: list[linkage.Tracer] = list(linkage.DEFAULT_PASSES)
    if probabilistic and pooled.height:
        decisions = review.read_decisions(home.review_queue) if home.review_queue.exists() else None
        passes.append(
            linkage.SplinkPass(
                decisions=decisions, review_path=home.review_queue, card_path=home.match_model_card, seed=seed
            )
        )
    result = linkage.trace(pooled, master, passes=passes, namespace="pool")
    results = result.frame.select(*TRACE_SCHEMA, "nhs_number", "link_method", "link_confidence")
    national_counts: dict[str, int] = {}
    if national is not None:
        results, national_counts = national_trace(home, results, national)
    write_parquet(results, home.trace_results)
    methods = results.group_by("link_method").len().sort("link_method").iter_rows()
    return {**{f"link/{method}": int(rows) for method, rows in methods}, **national_counts}


DBS_METHOD = NATIONAL_METHOD  # one spelling, read back by linkage_rates


def national_trace(
    home: Home, results: pl.DataFrame, national: NationalTracing
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The DBS round trip over the records local tracing left unmatched; returns the updated results.

    1. Each untraced description gets its stable reference, recorded in the ledger (identifiable zone).
    2. The answers already in landing/dbs are read; bad rows are quarantined with their reason.
    3. Descriptions with no answer yet are written to this load's request file (0600, in the
       identifiable outbox); with ``national.answer`` (the demo) the request is answered at once.
    4. Traced answers fill the NHS number (``link_method`` dbs, the service's confidence); no match,
       several matches and other refusals stay unmatched and are counted, never guessed.

    A request without an answer is not an error: it is counted (``dbs/awaiting_response``) and its
    answer, when the DBS client drops it into landing/dbs/, is applied by the next run.
    """
    unmatched = results.filter(pl.col("link_method") == UNMATCHED)
    asked = unmatched.select(*TRACE_SCHEMA).with_columns(dbs.references(unmatched))
    ledger = _update_ledger(home, asked)
    answers, quarantined = _read_answers(home, national.landing, ledger)
    pending = asked.join(answers.select(dbs.REFERENCE), on=dbs.REFERENCE, how="anti")
    counts = {"dbs/requested": 0}
    if pending.height:
        request = home.dbs_request(_request_stem(home, national.landing))
        body = dbs.request_bytes(pending)
        make_parents(request)  # 0700 folders below the identifiable zone
        write_private(request, body, replace=True)
        counts["dbs/requested"] = body.count(b"\r\n") - 1
        if national.answer is not None:
            national.answer(request, national.landing)
            answers, quarantined = _read_answers(home, national.landing, ledger)
    found = asked.join(answers, on=dbs.REFERENCE, how="left")
    for outcome in (dbs.TRACED, dbs.NO_MATCH, dbs.MULTIPLE_MATCH, dbs.NOT_TRACED):
        counts[f"dbs/{outcome}"] = int((found["outcome"] == outcome).sum())
    counts["dbs/awaiting_response"] = int(found["outcome"].is_null().sum())
    traced = found.filter(pl.col("outcome") == dbs.TRACED).select(
        *TRACE_SCHEMA, pl.col("nhs_number").alias("_dbs_number"), pl.col("confidence").alias("_dbs_conf")
    )
    out = results.join(traced, on=list(TRACE_SCHEMA), how="left", nulls_equal=True, maintain_order="left")
    hit = pl.col("_dbs_number").is_not_null() & (pl.col("link_method") == UNMATCHED)
    out = out.with_columns(
        pl.when(hit).then(pl.col("_dbs_number")).otherwise(pl.col("nhs_number")).alias("nhs_number"),
        pl.when(hit).then(pl.lit(DBS_METHOD)).otherwise(pl.col("link_method")).alias("link_method"),
        pl.when(hit).then(pl.col("_dbs_conf")).otherwise(pl.col("link_confidence")).alias("link_confidence"),
    ).drop("_dbs_number", "_dbs_conf")
    counts["dbs/quarantined"] = quarantined
    make_parents(home.dbs_status)
    write_private(home.dbs_status, (json.dumps(counts) + "\n").encode(), replace=True)  # in stage order
    return out, counts


def _update_ledger(home: Home, asked: pl.DataFrame) -> pl.Series:
    """Add this load's references to the ledger of every reference issued; returns them all."""
    columns = [dbs.REFERENCE, *TRACE_SCHEMA]
    frames = [asked.select(columns)]
    if home.dbs_ledger.exists():
        frames.insert(0, pl.read_parquet(home.dbs_ledger).select(columns))
    ledger = pl.concat(frames).unique(dbs.REFERENCE, keep="first", maintain_order=True)
    write_parquet(ledger, home.dbs_ledger)
    return ledger[dbs.REFERENCE]


def _read_answers(home: Home, landing: Path, issued: pl.Series) -> tuple[pl.DataFrame, int]:
    """The usable answers of every response in landing/dbs (a later batch overrides an earlier one),
    and the number of rows quarantined.

    Each file's quarantined rows are written beside the connectors' quarantine (identifiable: line,
    reason, reference) and its counts to the ops quarantine the warehouse reports.
    """
    frames = []
    quarantined = 0
    for path in dbs_responses(landing):
        file = path.relative_to(landing).as_posix()
        stem = dbs_response_stem(file)
        assert stem is not None  # dbs_responses lists only files named by the rule
        response = dbs.read_response(read_regular(path, file), file, issued)
        write_parquet(
            response.quarantine.with_columns(pl.lit(file).alias("file")), home.quarantine("dbs", stem)
        )
        counts = response.quarantine.group_by("reason").len("rows").sort("reason")
        write_parquet(
            counts.select(
                pl.lit("dbs_response").alias("source"), pl.lit(file).alias("file"),
                pl.lit(stem.split("_")[0]).alias("month"), "reason", pl.col("rows").cast(pl.Int64),
            ),
            home.ops("quarantine", "dbs_response", stem),
        )  # fmt: skip
        frames.append(response.answers)
        quarantined += response.quarantine.height
    if not frames:
        return pl.DataFrame(schema=dbs.ANSWER_SCHEMA), 0
    answers = pl.concat(frames).reverse().unique(dbs.REFERENCE, keep="first", maintain_order=True).reverse()
    return answers.select(list(dbs.ANSWER_SCHEMA)), quarantined


def _request_stem(home: Home, landing: Path) -> str:
    """This load's batch: its latest month, numbered on when that month's batch was answered already."""
    months = [m for source in EXTRACTS for m in staged_months(home, source)]
    month = max(months)
    answered = {dbs_response_stem(p.relative_to(landing).as_posix()) for p in dbs_responses(landing)}
    batch = 1
    while (stem := month if batch == 1 else f"{month}_{batch}") in answered:
        batch += 1
    return stem
