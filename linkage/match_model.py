"""The Fellegi–Sunter model `linkage.matcher` fits: comparisons, their starting m values, blocking rules.

Definitions only (Splink 5 comparison and blocking-rule creators); fitting and scoring live in
`linkage.match_training`. Each comparison exists only when both frames carry its column, so the same
definitions serve a GP master against social care records and against anything else with names.
"""

from __future__ import annotations

from typing import Any

UID = "unique_id"
DOB = "date_of_birth"
# Custom levels are written in DuckDB SQL; Splink transpiles them to the backend's (e.g. Spark's).
SQL_DIALECT = "duckdb"
# Explainable DOB difference (also used for the post-prediction safety rule): same, day/month swapped,
# or one edit / adjacent transposition on the YYYYMMDD string (a swap may straddle month and day).
DOB_SWAP = (
    "year(date_of_birth_l) = year(date_of_birth_r) AND day(date_of_birth_l) = month(date_of_birth_r) "
    "AND month(date_of_birth_l) = day(date_of_birth_r)"
)
# One edit or transposition on two 8-character strings leaves at most two adjacent positions different,
# so the year (positions 1-4) or the month and day (5-8) agree, or, for a change straddling year and
# month, the first three and last three digits do. That integer test is a necessary condition, cheap
# beside the Damerau-Levenshtein distance, which DuckDB then computes only for the pairs passing it:
# the same level, about a tenth less CPU in prediction at 500,000 x 50,000 (docs/matching.md).
DOB_EDIT_POSSIBLE = (
    "(year(date_of_birth_l) = year(date_of_birth_r) "
    "OR (month(date_of_birth_l) = month(date_of_birth_r) AND day(date_of_birth_l) = day(date_of_birth_r)) "
    "OR (year(date_of_birth_l) - year(date_of_birth_l) % 10 = year(date_of_birth_r) - year(date_of_birth_r) % 10 "
    "AND month(date_of_birth_l) % 10 = month(date_of_birth_r) % 10 AND day(date_of_birth_l) = day(date_of_birth_r)))"
)
DOB_EDIT = (
    f"{DOB_EDIT_POSSIBLE} AND "
    "damerau_levenshtein(strftime(date_of_birth_l, '%Y%m%d'), strftime(date_of_birth_r, '%Y%m%d')) <= 1"
)
DOB_TWO_EDITS = (
    "damerau_levenshtein(strftime(date_of_birth_l, '%Y%m%d'), strftime(date_of_birth_r, '%Y%m%d')) <= 2"
)
DOB_EXPLAINED = f"(date_of_birth_l IS NULL OR date_of_birth_r IS NULL OR date_of_birth_l = date_of_birth_r OR ({DOB_SWAP}) OR ({DOB_EDIT}))"


def _levels(output: str, levels: list[tuple[Any, float | None]]) -> Any:
    """A custom comparison whose levels carry starting m probabilities.

    The starting values are what EM refines; they are also the model when the data are too small for EM
    (tiny frames, or a level never observed), so a small linkage still scores sensibly.
    """
    import splink.comparison_library as cl

    configured = [lvl if m is None else lvl.configure(m_probability=m) for lvl, m in levels]
    return cl.CustomComparison(configured, output_column_name=output)


def _name_comparison(col: str, other: str | None) -> Any:
    """Null, exact (term-frequency adjusted), JW >= 0.92, >= 0.88, swapped with the other name, JW >= 0.7."""
    import splink.comparison_level_library as cll

    levels: list[tuple[Any, float | None]] = [
        (cll.NullLevel(col), None),
        (cll.ExactMatchLevel(col, term_frequency_adjustments=True), 0.85),
        (cll.JaroWinklerLevel(col, 0.92), 0.07),
        (cll.JaroWinklerLevel(col, 0.88), 0.02),
    ]
    if other is not None:
        levels.append(
            (
                cll.CustomLevel(
                    f"{col}_l = {other}_r",
                    base_dialect_str=SQL_DIALECT,
                    label_for_charts="Swapped with other name",
                ),
                0.02,
            )
        )
    levels += [(cll.JaroWinklerLevel(col, 0.7), 0.02), (cll.ElseLevel(), 0.02)]
    return _levels(col, levels)


def _dob_comparison() -> Any:
    import splink.comparison_level_library as cll

    within_year = "abs(date_diff('day', date_of_birth_l, date_of_birth_r)) <= 366"
    return _levels(
        DOB,
        [
            (cll.NullLevel(DOB), None),
            (cll.ExactMatchLevel(DOB), 0.92),
            (
                cll.CustomLevel(
                    DOB_SWAP, base_dialect_str=SQL_DIALECT, label_for_charts="Day and month swapped"
                ),
                0.02,
            ),
            (
                cll.CustomLevel(
                    DOB_EDIT, base_dialect_str=SQL_DIALECT, label_for_charts="One edit or transposition"
                ),
                0.04,
            ),
            (
                cll.CustomLevel(DOB_TWO_EDITS, base_dialect_str=SQL_DIALECT, label_for_charts="Two edits"),
                0.01,
            ),
            (
                cll.CustomLevel(within_year, base_dialect_str=SQL_DIALECT, label_for_charts="Within 1 year"),
                0.005,
            ),
            (cll.ElseLevel(), 0.005),
        ],
    )


def _postcode_comparison(*, uk: bool = True) -> Any:
    """Splink's `PostcodeComparison`: exact (term-frequency adjusted), sector, district, area, else.

    Works on the normalised 'AA9A 9AA' form `linkage.keys.postcode_key` produces. `uk` False (postcodes
    of another country, kept as plain text by `linkage.matcher.prepare`): exact, one edit or adjacent
    transposition (a mistyped digit of a four- or five-digit code), else; the sector, district and area
    levels mean nothing there.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if not uk:
        return _levels(
            "postcode",
            [
                (cll.NullLevel("postcode"), None),
                (cll.ExactMatchLevel("postcode", term_frequency_adjustments=True), 0.8),
                (cll.DamerauLevenshteinLevel("postcode", 1), 0.1),
                (cll.ElseLevel(), 0.1),
            ],
        )
    return cl.PostcodeComparison("postcode").configure(
        term_frequency_adjustments=True, m_probabilities=[0.7, 0.05, 0.05, 0.05, 0.15]
    )


def comparisons(columns: set[str], *, uk_postcodes: bool = True) -> list[Any]:
    """One comparison per standard column both frames carry, in a fixed order (`uk_postcodes`: whether
    the postcodes are UK ones, `linkage.matcher.uk_postcodes`)."""
    import splink.comparison_level_library as cll

    both_names = {"given_name", "family_name"} <= columns
    out: list[Any] = []
    if "given_name" in columns:
        out.append(_name_comparison("given_name", "family_name" if both_names else None))
    if "family_name" in columns:
        out.append(_name_comparison("family_name", "given_name" if both_names else None))
    if DOB in columns:
        out.append(_dob_comparison())
    if "sex" in columns:
        out.append(
            _levels(
                "sex",
                [(cll.NullLevel("sex"), None), (cll.ExactMatchLevel("sex"), 0.98), (cll.ElseLevel(), 0.02)],
            )
        )
    if "postcode" in columns:
        out.append(_postcode_comparison(uk=uk_postcodes))
    if "address" in columns:
        out.append(
            _levels(
                "address",
                [
                    (cll.NullLevel("address"), None),
                    (cll.ExactMatchLevel("address"), 0.6),
                    (cll.JaroWinklerLevel("address", 0.9), 0.15),
                    (cll.JaccardLevel("address", 0.6), 0.1),
                    (cll.ElseLevel(), 0.15),
                ],
            )
        )
    return out


SWAPPED_NAMES = "l.given_name = r.family_name AND l.family_name = r.given_name"


#: The three widest prediction rules (whole DOB, whole postcode, family prefix + birth year).
WIDE_KEYS: tuple[tuple[str, ...], ...] = ((DOB,), ("postcode",), ("_family3", "_birth_year"))
#: Blocked pairs the wide rules may make before they also require the same sex (`blocking_keys`).
WIDE_RULE_PAIRS = 1_000_000


def blocking_keys(columns: set[str], *, narrow: bool = False) -> list[tuple[str, ...]]:
    """Prediction rules: each bounded (equality on a fairly selective key); only those whose columns exist.

    Chosen so that a true pair with any two of given name, family name, DOB and postcode corrupted
    still meets at least one rule: every pair of fields has a rule on (part of) both, and partial keys
    (three-letter prefixes, birth year, month and day, postcode district) survive a typo in the rest of
    the field. Each is cheap: `splink.blocking_analysis` counts the comparisons (docs/matching.md).

    `narrow`: the three `WIDE_KEYS` rules also require the same sex (where the frames carry it). At
    1,000,000 x 100,000 they made 4.0 of 6.4 million comparisons, and narrowing them cut prediction by
    more than half; but a true pair whose sex disagrees or is missing then loses them, which on the
    20,000-person demo left 4 more of 4,292 untraceable records unmatched. So the caller narrows only
    when the wide rules would block more than `WIDE_RULE_PAIRS` pairs (`match_training.narrow_rules`).
    """
    wide = [(*keys, "sex") if narrow and "sex" in columns else keys for keys in WIDE_KEYS]
    candidates: list[tuple[str, ...]] = [
        *wide,
        ("given_name", "family_name"),
        ("_given3", "_birth_year", "sex"),
        ("address",),
        ("_given3", "_family3", "_dob_md"),
        ("family_name", "_dob_md"),
        ("given_name", "_dob_md", "sex"),
        ("family_name", "_district"),
        ("given_name", "_district", "sex"),
        ("_family3", "_given3", "_district"),
        ("_dob_md", "_birth_year_decade", "_district"),
        ("_given3", "_family3", "_birth_year_decade"),
        ("_family3", "_address_town"),
        ("_given3", "_address_town", "_birth_year_decade"),
    ]
    return [keys for keys in candidates if set(keys) <= columns]


def blocking_rules(columns: set[str], *, narrow: bool = False) -> list[Any]:
    """Splink rules for prediction: `blocking_keys` as `block_on`, plus the given/family swap."""
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    rules: list[Any] = [block_on(*keys) for keys in blocking_keys(columns, narrow=narrow)]
    if {"given_name", "family_name"} <= columns:
        rules.append(CustomRule(SWAPPED_NAMES))
    return rules


def training_keys(columns: set[str]) -> list[tuple[str, ...]]:
    """EM rules: one blocking on postcode (frees names and DOB), one on full name (frees postcode and DOB).

    Neither blocks on DOB: when the left side is what exact tracing left behind, agreeing on DOB is
    mostly a coincidence among those records, and EM on such a block learns nonsense.
    """
    options: tuple[tuple[str, ...], ...] = (
        ("postcode",),
        ("given_name", "family_name"),
        ("address",),
        ("_family3", "_birth_year"),
        (DOB,),
    )
    return [keys for keys in options if set(keys) <= columns][:2]


def prior_keys(columns: set[str]) -> list[tuple[str, ...]]:
    """Deterministic rules (near-certain matches) from which Splink estimates the match prior."""
    options: tuple[tuple[str, ...], ...] = (
        ("given_name", "family_name", DOB),
        (DOB, "postcode", "sex"),
        ("given_name", "family_name", "postcode"),
    )
    return [keys for keys in options if set(keys) <= columns]
