"""The answer key: truth/persons.parquet, records.parquet, defects.json, config.json.

Only tests and benchmarks read it; the pipeline never does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from synthetic.defects import DEFECTS
from synthetic.geography import Geography
from synthetic.health import CONDITION_NAMES, Health
from synthetic.people import ETHNIC_CODES, FAMILY_VOCAB, GIVEN_VOCAB, NEVER, Population

_RECORD_SCHEMA = pa.schema(
    [
        ("source", pa.dictionary(pa.int32(), pa.string())),
        ("file", pa.dictionary(pa.int32(), pa.string())),
        ("line", pa.int32()),
        ("person_id", pa.int32()),
        ("nhs_number", pa.string()),
    ]
    + [(d, pa.bool_()) for d in DEFECTS]
)


class RecordsWriter:
    """Streams one truth row per written data line into records.parquet."""

    def __init__(self, path: Path) -> None:
        self._writer = pq.ParquetWriter(path, _RECORD_SCHEMA, compression="lz4")

    def add(
        self, source: str, file: str, person: np.ndarray, nhs: np.ndarray, flags: dict[str, np.ndarray]
    ) -> None:
        frame = pl.DataFrame(
            {
                "source": pl.Series([source], dtype=pl.Categorical).gather(np.zeros(len(person), np.int64)),
                "file": pl.Series([file], dtype=pl.Categorical).gather(np.zeros(len(person), np.int64)),
                "line": np.arange(2, len(person) + 2, dtype=np.int32),
                "person_id": person.astype(np.int32),
                "nhs_number": pl.Series(nhs.astype(np.int64)).cast(pl.String),
                **{d: flags[d] for d in DEFECTS},
            }
        )
        self._writer.write_table(frame.to_arrow().cast(_RECORD_SCHEMA))

    def close(self) -> None:
        self._writer.close()


def _date_or_null(days: np.ndarray) -> pl.Series:
    return (
        pl.Series(np.where(days >= NEVER, -(10**6), days))
        .replace(-(10**6), None)
        .cast(pl.Int32)
        .cast(pl.Date)
    )


def _str_or_null(values: np.ndarray, keep: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).scatter(np.flatnonzero(~keep), None)


def persons_frame(
    geo: Geography,
    pop: Population,
    h: Health,
    ndoo: np.ndarray,
    type1: np.ndarray,
    non_sharing: np.ndarray,
    outcome: np.ndarray,
) -> pl.DataFrame:
    practice_end = np.where(pop.switch_date < NEVER, pop.practice1, pop.practice0)
    cols: dict[str, Any] = {
        "person_id": np.arange(pop.n, dtype=np.int32),
        "nhs_number": pl.Series(pop.nhs).cast(pl.String),
        "given_name": GIVEN_VOCAB[pop.given],
        "family_name": FAMILY_VOCAB[pop.family],
        "date_of_birth": _date_or_null(pop.dob),
        "sex": np.array(["M", "F"])[pop.sex],
        "ethnic_category": np.array(ETHNIC_CODES)[pop.ethnic],
        "lsoa_start": geo.lsoa_code[pop.lsoa0],
        "lsoa_end": geo.lsoa_code[np.where(pop.move_date < NEVER, pop.lsoa1, pop.lsoa0)],
        "imd_decile": h.imd.astype(np.int8),
        "postcode_start": geo.postcode[pop.postcode0],
        "postcode_end": geo.postcode[np.where(pop.move_date < NEVER, pop.postcode1, pop.postcode0)],
        "move_date": _date_or_null(pop.move_date),
        "born_in_period": pop.born_in_period,
        "registration_start": _date_or_null(pop.reg_start),
        "practice_start": _str_or_null(geo.practice_code[pop.practice0], pop.reg_start < NEVER),
        "practice_end": _str_or_null(geo.practice_code[practice_end], pop.reg_start < NEVER),
        "practice_switch_date": _date_or_null(pop.switch_date),
        "practice_non_sharing": non_sharing[pop.practice0],
        "date_of_death": _date_or_null(pop.death),
        "latent_risk": h.z.round(6),
        **{f"has_{c}": h.conditions[:, j] for j, c in enumerate(CONDITION_NAMES)},
        "condition_count": h.n_conditions.astype(np.int16),
        "frailty_deficits": h.deficits.sum(axis=1).astype(np.int16),
        "oracle_eligible": h.eligible,
        "p_emerg_12m": np.where(h.eligible, h.p_emerg.round(8), np.nan),
        "outcome_emerg_12m": pl.Series(outcome).scatter(np.flatnonzero(~h.eligible), None),
        "ndoo": ndoo,
        "type1_opt_out": type1,
    }
    return pl.DataFrame(cols).with_columns(pl.col("p_emerg_12m").fill_nan(None))


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
