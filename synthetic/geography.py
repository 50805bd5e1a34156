"""Places, PCNs, practices, LSOAs with IMD deciles, and postcodes.

Everything here is fictitious: LSOA codes use the unused E019xxxxx block and postcodes use the
areas QA/QB/QC (Q never starts a real UK postcode), so no value can be mistaken for a real place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synthetic.names import STREETS

PLACES = ("Northvale", "Riverside", "Eastmoor")
_PLACE_AREA = ("QA", "QB", "QC")
_PLACE_SHARE = np.array([0.40, 0.35, 0.25])  # share of population (and LSOAs) per place
# Mean IMD decile per place: Northvale urban and deprived, Eastmoor rural and affluent.
_PLACE_DEP_SHIFT = np.array([-1.6, 0.2, 1.8])
_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))  # letters used in real inward codes
_SUFFIX = ("Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice")


@dataclass(frozen=True)
class Geography:
    lsoa_code: np.ndarray  # str
    lsoa_place: np.ndarray  # int index into PLACES
    lsoa_imd: np.ndarray  # int 1..10 (1 = most deprived)
    lsoa_xy: np.ndarray  # (n, 2) float coordinates in km
    postcode: np.ndarray  # str, every postcode
    postcode_lsoa: np.ndarray  # int index into lsoa arrays
    lsoa_pc_start: np.ndarray  # first postcode index of each LSOA (postcodes grouped by LSOA)
    lsoa_pc_count: np.ndarray
    lsoa_streets: np.ndarray  # (n_lsoa, 4) indices into STREETS
    practice_code: np.ndarray  # str
    practice_place: np.ndarray  # int
    practice_pcn: np.ndarray  # int index into pcn arrays
    practice_lsoa: np.ndarray  # int: the LSOA the practice building is in
    practice_name: np.ndarray
    practice_postcode: np.ndarray
    pcn_code: np.ndarray
    pcn_name: np.ndarray
    lsoa_practice_cum: np.ndarray  # (n_lsoa, n_practice) cumulative choice probabilities

    @property
    def n_lsoa(self) -> int:
        return len(self.lsoa_code)

    @property
    def n_practice(self) -> int:
        return len(self.practice_code)


def sample_rows(cum: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vectorised categorical draw: for each i, a column index from the cumulative row ``cum[rows[i]]``."""
    k = cum.shape[1]
    flat = (cum / cum[:, -1:] + np.arange(cum.shape[0])[:, None]).ravel()
    u = rng.random(len(rows))
    idx = np.searchsorted(flat, rows + u, side="right") - rows * k
    return np.minimum(idx, k - 1)


def build_geography(persons: int, rng: np.random.Generator) -> Geography:
    n_lsoa = int(np.clip(round(200 * (persons / 20_000) ** 0.3), 90, 1200))
    n_practice = max(24, round(persons / 9_500))
    n_pcn = max(8, n_practice // 5)

    lsoa_place = np.repeat(np.arange(3), np.round(_PLACE_SHARE * n_lsoa).astype(int))[:n_lsoa]
    lsoa_place = np.concatenate([lsoa_place, np.full(n_lsoa - len(lsoa_place), 2)])
    centres = np.array([[0.0, 0.0], [30.0, 5.0], [15.0, 30.0]])
    radius = np.array([6.0, 8.0, 14.0])
    ang = rng.random(n_lsoa) * 2 * np.pi
    r = np.sqrt(rng.random(n_lsoa)) * radius[lsoa_place]
    xy = centres[lsoa_place] + np.c_[np.cos(ang), np.sin(ang)] * r[:, None]
    # Deprivation: inner areas more deprived, plus a place shift and noise.
    rel = r / radius[lsoa_place]
    score = 5.5 + _PLACE_DEP_SHIFT[lsoa_place] + 3.0 * (rel - 0.5) + rng.normal(0, 1.8, n_lsoa)
    imd = np.clip(np.round(score), 1, 10).astype(np.int64)

    lsoa_num = rng.choice(100_000, size=n_lsoa, replace=False)
    lsoa_code = np.array([f"E019{n:05d}" for n in lsoa_num])

    # Postcodes: districts of ~8 LSOAs; 12-40 postcodes per LSOA, unique inward codes per district.
    pc_count = rng.integers(12, 41, size=n_lsoa)
    district = np.zeros(n_lsoa, dtype=np.int64)
    for p in range(3):
        members = np.flatnonzero(lsoa_place == p)
        order = members[np.argsort(xy[members, 0] + 0.3 * xy[members, 1])]
        district[order] = 1 + np.arange(len(order)) // 8
    postcodes: list[str] = []
    owners: list[np.ndarray] = []
    for p in range(3):
        for d in np.unique(district[lsoa_place == p]):
            members = np.flatnonzero((lsoa_place == p) & (district == d))
            need = int(pc_count[members].sum())
            inward = rng.choice(10 * 400, size=need, replace=False)
            letters = _INWARD_LETTERS[inward % 400 // 20], _INWARD_LETTERS[inward % 20]
            digit = inward // 400
            postcodes.extend(
                f"{_PLACE_AREA[p]}{d} {dg}{a}{b}" for dg, a, b in zip(digit, *letters, strict=True)
            )
            owners.append(np.repeat(members, pc_count[members]))
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    postcode = np.array(postcodes)[order]
    postcode_lsoa = owner[order]
    pc_start = np.searchsorted(postcode_lsoa, np.arange(n_lsoa))
    streets = rng.integers(0, len(STREETS), size=(n_lsoa, 4))

    # PCNs and practices: practices sit in LSOAs of their place, PCNs group nearby practices.
    pcn_place = np.repeat(np.arange(3), np.round(_PLACE_SHARE * n_pcn).astype(int))[:n_pcn]
    pcn_place = np.concatenate([pcn_place, np.full(n_pcn - len(pcn_place), 2)])
    practice_place = np.repeat(np.arange(3), np.round(_PLACE_SHARE * n_practice).astype(int))[:n_practice]
    practice_place = np.concatenate([practice_place, np.full(n_practice - len(practice_place), 2)])
    practice_lsoa = np.empty(n_practice, dtype=np.int64)
    practice_pcn = np.empty(n_practice, dtype=np.int64)
    for p in range(3):
        idx = np.flatnonzero(practice_place == p)
        practice_lsoa[idx] = rng.choice(np.flatnonzero(lsoa_place == p), size=len(idx), replace=False)
        pcns = np.flatnonzero(pcn_place == p)
        by_x = idx[np.argsort(xy[practice_lsoa[idx], 0])]
        practice_pcn[by_x] = pcns[np.arange(len(by_x)) * len(pcns) // len(by_x)]
    practice_letters = np.array(list("ABCDFGHJKLMNPY"))
    codes = rng.choice(len(practice_letters) * 100_000, size=n_practice, replace=False)
    practice_code = np.array([f"{practice_letters[c // 100_000]}{c % 100_000:05d}" for c in codes])
    pcn_code = np.array([f"U{c:05d}" for c in rng.choice(100_000, size=n_pcn, replace=False)])
    compass = ("North", "South", "East", "West", "Central", "Upper", "Lower", "Outer")
    pcn_name = np.array(
        [
            f"{PLACES[pcn_place[i]]} {compass[i % len(compass)]} {1 + i // len(compass)} PCN"
            for i in range(n_pcn)
        ]
    )
    practice_name = np.array(
        [
            f"{STREETS[streets[practice_lsoa[i], 0]].split()[0]} {_SUFFIX[i % len(_SUFFIX)]}"
            for i in range(n_practice)
        ]
    )
    practice_postcode = postcode[pc_start[practice_lsoa]]

    # Patients choose practices nearby (distance decay) in their place, occasionally further away.
    d = np.linalg.norm(xy[:, None, :] - xy[practice_lsoa][None, :, :], axis=2)
    size = rng.lognormal(0, 0.4, n_practice)
    w = size[None, :] * np.exp(-d / 2.5) + 1e-4
    w *= np.where(lsoa_place[:, None] == practice_place[None, :], 1.0, 0.02)
    return Geography(
        lsoa_code=lsoa_code,
        lsoa_place=lsoa_place,
        lsoa_imd=imd,
        lsoa_xy=xy,
        postcode=postcode,
        postcode_lsoa=postcode_lsoa,
        lsoa_pc_start=pc_start,
        lsoa_pc_count=pc_count,
        lsoa_streets=streets,
        practice_code=practice_code,
        practice_place=practice_place,
        practice_pcn=practice_pcn,
        practice_lsoa=practice_lsoa,
        practice_name=practice_name,
        practice_postcode=practice_postcode,
        pcn_code=pcn_code,
        pcn_name=pcn_name,
        lsoa_practice_cum=np.cumsum(w, axis=1),
    )


def reference_frames(geo: Geography) -> dict[str, pl.DataFrame]:
    """The landing/reference files, sorted for stable bytes."""
    practices = pl.DataFrame(
        {
            "Practice_Code": geo.practice_code,
            "Practice_Name": geo.practice_name,
            "PCN_Code": geo.pcn_code[geo.practice_pcn],
            "PCN_Name": geo.pcn_name[geo.practice_pcn],
            "Place": np.array(PLACES)[geo.practice_place],
            "Practice_Postcode": geo.practice_postcode,
        }
    ).sort("Practice_Code")
    lsoa = pl.DataFrame(
        {
            "LSOA21CD": geo.lsoa_code,
            "LSOA21NM": [f"{PLACES[p]} {i + 1:03d}" for i, p in enumerate(geo.lsoa_place)],
            "IMD_Decile": geo.lsoa_imd,
            "Place": np.array(PLACES)[geo.lsoa_place],
        }
    ).sort("LSOA21CD")
    pcl = pl.DataFrame({"Postcode": geo.postcode, "LSOA21CD": geo.lsoa_code[geo.postcode_lsoa]}).sort(
        "Postcode"
    )
    return {
        "reference/practices.csv": practices,
        "reference/lsoa_imd.csv": lsoa,
        "reference/postcode_lsoa.csv": pcl,
    }
