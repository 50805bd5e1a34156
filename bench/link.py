"""`phm bench link`: tracing (exact passes, then Splink) of records with injected errors, timed and scored.

Records without NHS numbers (`bench.link_data`) are traced against a GP master exactly as the pipeline
traces them (`linkage.trace` with `linkage.probabilistic.SplinkPass`), then scored against the true NHS
numbers the data kept aside.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.link_data import ERROR_SETTINGS, synthetic_trace_data
from bench.link_febrl import febrl4_figures
from bench.report import emit, peak_rss_mb
from core.errors import UsageError
from linkage.probabilistic import METHOD, SplinkPass
from linkage.trace import DEFAULT_PASSES, NHS_NUMBER, trace


def trace_quality(traced: pl.DataFrame, truth: pl.Series) -> dict[str, float]:
    """Precision, recall and F1 of traced NHS numbers against truth (null truth: should stay unmatched)."""
    got = traced.get_column(NHS_NUMBER)
    linked = got.is_not_null()
    correct = int((linked & (got == truth)).fill_null(False).sum())
    n_linked = int(linked.sum())
    n_true = int(truth.is_not_null().sum())
    precision = correct / n_linked if n_linked else 1.0
    recall = correct / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "linked": n_linked, "correct": correct, "in_master": n_true}  # fmt: skip


def link_figures(
    persons: int, unlinked: int, seed: int, *, threads: int | None = None, errors: str = "tuned"
) -> dict[str, Any]:
    """Trace `unlinked` synthetic records against a `persons` master (exact passes, then Splink).

    Returns counts, timings in seconds and precision/recall/F1 (overall and on the records that reached
    the probabilistic pass). Peak memory is for the caller to measure.
    """
    t0 = time.perf_counter()
    master, records = synthetic_trace_data(persons, unlinked, seed, errors)
    t1 = time.perf_counter()
    truth = records.get_column("true_nhs_number")
    with tempfile.TemporaryDirectory() as tmp:
        # The model card says which threshold and review band the model chose (linkage.thresholds).
        splink_pass = SplinkPass(seed=seed, threads=threads, card_path=Path(tmp) / "card.json")
        result = trace(
            records.drop("true_nhs_number", "error"),
            master,
            passes=[*DEFAULT_PASSES, splink_pass],
            namespace="bench",
        )
        t2 = time.perf_counter()
        card = json.loads((Path(tmp) / "card.json").read_text()) if (Path(tmp) / "card.json").exists() else {}
    frame = result.frame
    prob_mask = frame.get_column("link_method").is_in([METHOD, "unmatched"])
    out: dict[str, Any] = {
        "persons": persons,
        "unlinked": unlinked,
        "seed": seed,
        "errors": errors,
        "generate_s": round(t1 - t0, 2),
        "trace_s": round(t2 - t1, 2),
        "rows_by_method": dict(sorted(result.stats.rows.items())),
        "ambiguous": result.stats.ambiguous,
        **trace_quality(frame, truth),
        "thresholds": {k: card[k] for k in ("threshold", "review_band", "expected_precision", "review_queue")
                       if k in card},
    }  # fmt: skip
    sub = trace_quality(frame.filter(prob_mask), truth.filter(prob_mask))
    out["probabilistic_stage"] = {k: sub[k] for k in ("precision", "recall", "f1", "in_master")}
    return out


def bench_link(*, persons: int, seed: int, unlinked: int, errors: str = "tuned") -> None:
    """Tracing (exact passes then Splink) of `unlinked` records against a `persons` GP master.

    `errors`: one of `bench.link_data.ERROR_SETTINGS`, or 'febrl4' for the published benchmark.
    """
    if errors not in (*ERROR_SETTINGS, "febrl4"):
        raise UsageError(f"--errors must be one of {', '.join((*ERROR_SETTINGS, 'febrl4'))}")
    start = time.perf_counter()
    if errors == "febrl4":
        figures = febrl4_figures(seed=seed)
        emit({"stage": "link", "errors": errors, "seconds": round(time.perf_counter() - start, 2),
              **figures, "peak_rss_mb": peak_rss_mb()})  # fmt: skip
        return
    figures = link_figures(persons, unlinked, seed, errors=errors)
    emit({
        "stage": "link",
        "persons": persons,
        "unlinked": unlinked,
        "seed": seed,
        "seconds": figures.get("trace_s", round(time.perf_counter() - start, 2)),
        **{k: v for k, v in figures.items() if k not in {"persons", "unlinked", "seed"}},
        "peak_rss_mb": peak_rss_mb(),
    })  # fmt: skip
