"""Generalise an extract's rows until every row shares its quasi-identifiers with at least k-1 others.

A recipient of a pseudonymised extract knows things about people (their age, sex, where they live) and
may hold another extract; a row whose combination of those values is rare points at one person. So
before an extract leaves, its quasi-identifiers (age, sex, IMD decile, risk tier, risk score) are
generalised by **global recoding**: every row at the same level of a fixed ladder, from fine (10-year
age bands, IMD decile, risk score in bands of 0.05) to the risk tier alone. The first level at which
every equivalence class (rows with the same values in every column but the token) holds at least `k`
rows is used. The ladder stops at the last rung that still says something about the people: a file
of bare tokens (every value `*`) would "reach" any k and tell the recipient nothing, so when even the
coarsest allowed rung (the purpose may stop it earlier) leaves a class under `k`, the extract is
refused instead (`KNotReached`).

Global recoding, not per-row: a recipient sees one coding for the whole file, and two extracts of the
same cohort for two recipients carry the same coarse values, so any join between them (or back to the
warehouse, generalised the same way) lands on a class of at least k people, never on one.
Risk scores are never released at full precision (a 4-d.p. score is itself an identifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

import polars as pl

__all__ = [
    "DEFAULT_K", "LADDER", "QUASI_IDENTIFIERS", "KNotReached", "Level", "LevelName", "generalise", "smallest_class",
]  # fmt: skip

DEFAULT_K: Final = 5
SUPPRESSED: Final = "*"
UNKNOWN: Final = "unknown"
#: The extract's columns besides the token, in output order (all text after generalisation).
QUASI_IDENTIFIERS: Final = ("age_band", "sex", "imd", "risk_tier", "risk_band")


@dataclass(frozen=True)
class Level:
    """One rung of the ladder: age band lower bounds (None: suppressed), whether sex is kept, the IMD
    grouping (deciles per group; None: suppressed) and the risk score band width (None: suppressed).
    The risk tier is kept on every rung: it is what the coarsest one still tells the recipient."""

    name: str
    age_bounds: tuple[int, ...] | None
    sex: bool
    imd_group: int | None
    risk_width: float | None


#: The rungs, finest first. A purpose may name the coarsest it accepts (`extract_coarsest_level`).
LevelName = Literal["fine", "coarse", "broad", "age_and_tier", "tier"]
LADDER: Final[tuple[Level, ...]] = (
    Level("fine", tuple(range(0, 100, 10)), True, 1, 0.05),
    Level("coarse", (0, 20, 40, 60, 80), True, 2, 0.1),
    Level("broad", (0, 18, 65), True, 5, None),
    Level("age_and_tier", (0, 65), False, None, None),
    Level("tier", None, False, None, None),  # the last rung that carries information: no token_only rung
)
assert tuple(level.name for level in LADDER) == get_args(LevelName)


class KNotReached(ValueError):
    """No allowed rung gives every class at least k rows: the coarsest rung tried and its smallest class."""

    def __init__(self, level: Level, smallest: int, k: int) -> None:
        self.level, self.smallest, self.k = level, smallest, k
        super().__init__(f"k >= {k} not reached at level {level.name} (smallest class {smallest})")


def _age_band(age: pl.Expr, bounds: tuple[int, ...] | None) -> pl.Expr:
    if bounds is None:
        return pl.lit(SUPPRESSED)
    band = pl.lit(None, pl.String)
    for lower, upper in zip(bounds, (*bounds[1:], None), strict=True):
        label = f"{lower}+" if upper is None else f"{lower}-{upper - 1}"
        band = (
            pl.when((age >= lower) & (age < upper if upper is not None else pl.lit(True)))
            .then(pl.lit(label))
            .otherwise(band)
        )
    return band.fill_null(UNKNOWN)


def _imd(decile: pl.Expr, group: int | None) -> pl.Expr:
    if group is None:
        return pl.lit(SUPPRESSED)
    if group == 1:
        return decile.cast(pl.String).fill_null(UNKNOWN)
    lower = (decile - 1) // group * group + 1
    return (lower.cast(pl.String) + pl.lit("-") + (lower + group - 1).cast(pl.String)).fill_null(UNKNOWN)


def _risk_band(score: pl.Expr, width: float | None) -> pl.Expr:
    if width is None:
        return pl.lit(SUPPRESSED)
    steps = round(1 / width)
    lower = (score * steps).floor().clip(0, steps - 1)  # a score of exactly 1.0 joins the top band
    text = pl.format(
        "{}-{}", (lower / steps).round(2).cast(pl.String), ((lower + 1) / steps).round(2).cast(pl.String)
    )
    return text.fill_null(UNKNOWN)


def _apply(frame: pl.DataFrame, level: Level) -> pl.DataFrame:
    return frame.select(
        "person_token",
        _age_band(pl.col("_age"), level.age_bounds).alias("age_band"),
        (pl.col("sex").cast(pl.String).fill_null(UNKNOWN) if level.sex else pl.lit(SUPPRESSED)).alias("sex"),
        _imd(pl.col("imd_decile"), level.imd_group).alias("imd"),
        pl.col("risk_tier").cast(pl.String).fill_null(UNKNOWN).alias("risk_tier"),
        _risk_band(pl.col("risk_score"), level.risk_width).alias("risk_band"),
    )


def smallest_class(frame: pl.DataFrame, columns: tuple[str, ...] = QUASI_IDENTIFIERS) -> int:
    """The size of the smallest equivalence class of `frame` on `columns` (0 for an empty frame)."""
    if frame.height == 0:
        return 0
    return int(frame.group_by(list(columns)).len()["len"].min())  # type: ignore[arg-type]


def generalise(
    frame: pl.DataFrame, *, k: int, now: datetime, coarsest: LevelName | None = None
) -> tuple[pl.DataFrame, Level]:
    """`frame` (person_token and whichever of birth_year_month, sex, imd_decile, risk_tier, risk_score
    the warehouse has; a missing one counts as unknown) at the first ladder level, down to `coarsest`
    (default: the last rung), where every class has at least `k` rows: (person_token +
    QUASI_IDENTIFIERS, the level). `KNotReached` when no allowed level reaches k (an empty frame never does)."""
    names = [level.name for level in LADDER]
    if coarsest is not None and coarsest not in names:
        raise ValueError(f"unknown generalisation level {coarsest!r}; levels: {', '.join(names)}")
    allowed = LADDER[: names.index(coarsest) + 1] if coarsest is not None else LADDER
    year = (
        pl.col("birth_year_month").cast(pl.String).str.slice(0, 4).cast(pl.Int32, strict=False)
        if "birth_year_month" in frame.columns
        else pl.lit(None, pl.Int32)
    )
    missing = {"sex": pl.String, "imd_decile": pl.Int32, "risk_tier": pl.String, "risk_score": pl.Float64}
    base = frame.with_columns(
        *(pl.lit(None, dtype).alias(c) for c, dtype in missing.items() if c not in frame.columns),
        (now.year - year).alias("_age"),
    )
    smallest = 0
    for level in allowed:
        coded = _apply(base, level)
        smallest = smallest_class(coded)
        if frame.height and smallest >= k:
            return coded, level
    raise KNotReached(allowed[-1], smallest, k)
