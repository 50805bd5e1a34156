"""Electronic Frailty Index (eFI, Clegg et al. 2016): 36 equally weighted deficits.

score = deficits present / 36. Categories: fit <= 0.12, mild <= 0.24, moderate <= 0.36, severe > 0.36.
Scores only take the values k/36 and none of them sits on a threshold, so the categories are, by
deficit count: fit 0-4 (4/36 = 0.111), mild 5-8 (5/36 = 0.139 .. 8/36 = 0.222), moderate 9-12
(9/36 = 0.25 .. 12/36 = 0.333), severe 13+ (13/36 = 0.361).

The same rule is given twice, as polars expressions and as DuckDB SQL fragments, and the spec tests run
both over the same table. The SQL fragments are constants (no values formatted in) that read a column
named `efi_deficits` (the number of deficits present, 0-36) from the surrounding query.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

EFI_DEFICITS: tuple[str, ...] = (
    "activity_limitation", "anaemia_haematinic_deficiency", "arthritis", "atrial_fibrillation",
    "cerebrovascular_disease", "chronic_kidney_disease", "diabetes", "dizziness", "dyspnoea", "falls",
    "foot_problems", "fragility_fracture", "hearing_impairment", "heart_failure", "heart_valve_disease",
    "housebound", "hypertension", "hypotension_syncope", "ischaemic_heart_disease",
    "memory_cognitive_problems", "mobility_transfer_problems", "osteoporosis", "parkinsonism_tremor",
    "peptic_ulcer", "peripheral_vascular_disease", "polypharmacy", "requirement_for_care",
    "respiratory_disease", "skin_ulcer", "sleep_disturbance", "social_vulnerability", "thyroid_disease",
    "urinary_incontinence", "urinary_system_disease", "visual_impairment", "weight_loss_anorexia",
)  # fmt: skip
N_DEFICITS = 36
FIT_MAX = 0.12
MILD_MAX = 0.24
MODERATE_MAX = 0.36
CATEGORIES: tuple[str, ...] = ("fit", "mild", "moderate", "severe")

# DuckDB fragments, kept literal so they can be read (and reviewed) as SQL; the numbers are the constants
# above, which tests/spec/test_frailty_efi.py checks.
EFI_SCORE_SQL = "(CAST(efi_deficits AS DOUBLE) / 36)"
EFI_CATEGORY_SQL = (
    "(CASE WHEN efi_deficits IS NULL THEN NULL "
    "WHEN CAST(efi_deficits AS DOUBLE) / 36 <= 0.12 THEN 'fit' "
    "WHEN CAST(efi_deficits AS DOUBLE) / 36 <= 0.24 THEN 'mild' "
    "WHEN CAST(efi_deficits AS DOUBLE) / 36 <= 0.36 THEN 'moderate' "
    "ELSE 'severe' END)"
)


def _col(expr: str | pl.Expr) -> pl.Expr:
    return pl.col(expr) if isinstance(expr, str) else expr


def efi_deficit_count(deficit_cols: Sequence[str] = EFI_DEFICITS) -> pl.Expr:
    """Number of deficits present from one boolean column per deficit (missing counts as absent)."""
    if len(deficit_cols) != N_DEFICITS:
        raise ValueError(f"the eFI needs {N_DEFICITS} deficit columns, got {len(deficit_cols)}")
    return pl.sum_horizontal(pl.col(c).fill_null(False).cast(pl.Int64) for c in deficit_cols)


def efi_score(deficits: str | pl.Expr = "efi_deficits") -> pl.Expr:
    """eFI score (Float64, 0-1) from the number of deficits present."""
    return _col(deficits).cast(pl.Float64) / N_DEFICITS


def efi_category(deficits: str | pl.Expr = "efi_deficits") -> pl.Expr:
    """eFI category ('fit', 'mild', 'moderate', 'severe'; null if the count is null) from the deficit count."""
    score = efi_score(deficits)
    return (
        pl.when(score.is_null())
        .then(None)
        .when(score <= FIT_MAX)
        .then(pl.lit("fit"))
        .when(score <= MILD_MAX)
        .then(pl.lit("mild"))
        .when(score <= MODERATE_MAX)
        .then(pl.lit("moderate"))
        .otherwise(pl.lit("severe"))
    )
