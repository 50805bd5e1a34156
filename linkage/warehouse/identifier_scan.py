"""The publish-time identifier scan: every text value of every table, before the warehouse is swapped in.

Column names are allow-listed (``schema.py``), but a value is only as safe as the connector that typed
it: a name typed into a time field once reached ``ae_attendance.arrival_time`` (issue #14). So the build
looks at the *values* of every VARCHAR column of every table and refuses to publish on a hit:

* ``nhs_number`` - ten digits (optionally spaced or hyphenated 3-3-4) standing alone, with a valid
  modulus 11 check digit. Values of the code list (``ref_codelist.code``) are exempt: SNOMED CT ids are
  digit strings, and one in eleven ten-digit ids passes the check;
* ``postcode`` - a UK postcode shape standing alone (``LS1 4AB``, ``ls14ab``);
* ``date_of_birth`` - a full date in a text column (``1950-03-12``, ``12/03/1950``): dates are typed
  ``DATE`` columns, and birth dates are kept only as a month;
* ``name`` - a value of one to four words, each a given or family name of the GP master. The names come
  from the identifiable zone as keyed digests (``pseudonymisation.name_digests``), never in the clear.
  Values of the published reference vocabularies (``ref_*`` tables: ethnic groups such as "White",
  practice and area names) are not names of people, and are exempt.

The error names the table, the column, the kind and the count, never a value. Each column is grouped
once into its distinct values with their counts and every check is a FILTER over those (one pass over
the column; the patterns run per distinct value, not per row), all columns in one query; only
distinct candidate name values reach Python. Columns the pipeline fills itself (run ids, keyed tokens, provider record ids replaced by
keyed tokens) are not scanned: nothing delivered reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from linkage.warehouse.checks import WarehouseCheckError
from pseudonymisation.lineage import RECORD_ID_COLUMNS
from pseudonymisation.name_digests import NameDigests

__all__ = ["IdentifierFound", "IdentifierHit", "scan_identifiers"]

# Word boundaries are "not a letter or digit", so a digit run inside a hex token never counts.
_B, _E = "(^|[^0-9A-Za-z])", "([^0-9A-Za-z]|$)"
_NHS = _B + r"([0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4})" + _E
_POSTCODE = _B + r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}" + _E
_DATE = r"(^|[^0-9])((19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]|[0-3][0-9]/[01][0-9]/(19|20)[0-9]{2})([^0-9]|$)"
_NAME_VALUE = r"^[A-Za-z][A-Za-z'-]*( [A-Za-z][A-Za-z'-]*){0,3}$"
_WEIGHTS = range(10, 1, -1)  # modulus 11 weights of the first nine digits


@dataclass(frozen=True)
class IdentifierHit:
    """Values of one kind of identifier found in one text column (a count, never the values)."""

    table: str
    column: str
    kind: str
    rows: int


class IdentifierFound(WarehouseCheckError):
    """The build found identifier-shaped values in text columns; nothing was published."""

    def __init__(self, hits: list[IdentifierHit]) -> None:
        self.hits = hits
        listed = "; ".join(f"{h.table}.{h.column}: {h.rows} {h.kind} value(s)" for h in hits)
        super().__init__(f"identifier scan refused the warehouse: {listed}")


def _nhs_valid(col: str) -> str:
    """SQL: the NHS-number-shaped value in ``col`` has a valid modulus 11 check digit."""
    digits = f"regexp_replace(regexp_extract({col}, '{_NHS}', 2), '[^0-9]', '', 'g')"
    total = " + ".join(
        f"{w} * TRY_CAST(substr({digits}, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(_WEIGHTS)
    )
    check = f"(11 - ({total}) % 11) % 11"
    return f"({check} <> 10 AND {check} = TRY_CAST(substr({digits}, 10, 1) AS INTEGER))"


# Columns whose values the pipeline makes itself (never copied from an extract): load and run ids
# (Dagster run ids, hex) and keyed tokens. Random hex can take a postcode's shape ("d102ac"), so
# scanning them would refuse every load; nothing delivered can reach them.
_GENERATED = frozenset({"load_id", "run_id", "row_token"})


def _generated(column: str) -> bool:
    # Provider record ids reach the warehouse only as keyed tokens (`pseudonymisation.lineage`).
    return column in _GENERATED or column.endswith("_token") or column in RECORD_ID_COLUMNS


def _text_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal"
        " AND database_name = current_database() AND data_type = 'VARCHAR' ORDER BY table_name, column_index"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        if not _generated(str(column)):
            out.setdefault(str(table), []).append(str(column))
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _codes_exempt(tables: dict[str, list[str]]) -> str:
    """SQL: `v` is not a code of the code list (where the warehouse has one); else always true."""
    if "code" in tables.get("ref_codelist", []):
        return "v NOT IN (SELECT code FROM ref_codelist WHERE code IS NOT NULL)"
    return "true"


def _all_hits(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, list[str]],
    names: NameDigests | None,
    vocabulary: set[str],
) -> list[IdentifierHit]:
    """Every check on every column in one query, each column grouped into its *distinct* values with
    their counts first.

    Warehouse text columns are mostly codes with few distinct values, so grouping first (one hash
    aggregate per column) and matching the patterns against the distinct values is far cheaper than
    four regular expressions over every row: at 880,000 people the row-wise scan took minutes. One
    query for all columns, not one per column: on a small warehouse the ~130 separate queries (each
    planning and compiling the same patterns) were most of the scan's time.
    """
    branches = []
    for t, (table, columns) in enumerate(tables.items()):
        # Per table: the code list's own codes are not exempt from the NHS number check in it, and
        # the reference vocabularies are not checked for names.
        exempt = "false" if table == "ref_codelist" else "true"
        by_name = "true" if names is not None and not table.startswith("ref_") else "false"
        for c, col in enumerate(columns):
            branches.append(
                f"SELECT {t} AS t, {c} AS c, {exempt} AS exempt, {by_name} AS by_name, {_q(col)} AS v, "  # noqa: S608 (catalogue names)
                f"count(*) AS n FROM {_q(table)} WHERE {_q(col)} IS NOT NULL GROUP BY {_q(col)}"
            )
    if not branches:
        return []
    nhs = f"regexp_matches(v, '{_NHS}') AND {_nhs_valid('v')} AND (NOT exempt OR {_codes_exempt(tables)})"
    name_list = (
        ", list({'v': v, 'n': n}) FILTER (WHERE by_name AND regexp_matches(v, $name))" if names else ""
    )
    rows = con.execute(
        f"WITH d AS ({' UNION ALL '.join(branches)}) "  # noqa: S608 (catalogue names)
        f"SELECT t, c, sum(n) FILTER (WHERE {nhs}), sum(n) FILTER (WHERE regexp_matches(v, '{_POSTCODE}')), "
        f"sum(n) FILTER (WHERE regexp_matches(v, '{_DATE}')){name_list} FROM d GROUP BY t, c",
        {"name": _NAME_VALUE} if names else {},  # a parameter: the pattern holds a quote
    ).fetchall()
    found = {(int(r[0]), int(r[1])): r[2:] for r in rows}
    hits: list[IdentifierHit] = []
    for t, (table, columns) in enumerate(tables.items()):
        for c, col in enumerate(columns):
            row = found.get((t, c))
            if row is None:  # no value in the column
                continue
            hits += [
                IdentifierHit(table, col, kind, int(n))
                for kind, n in zip(("nhs_number", "postcode", "date_of_birth"), row[:3], strict=True)
                if n
            ]
            if names:
                named = sum(
                    int(item["n"])
                    for item in row[3] or []
                    if item["v"] not in vocabulary
                    and all(_word(w) in names for w in str(item["v"]).split(" "))
                )
                if named:
                    hits.append(IdentifierHit(table, col, "name", named))
    return hits


def _vocabulary(con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]]) -> set[str]:
    """Every text value of the reference tables (small published vocabularies, not patient data)."""
    values: set[str] = set()
    for table, columns in tables.items():
        if table.startswith("ref_"):
            for col in columns:
                rows = con.execute(f"SELECT DISTINCT {_q(col)} FROM {_q(table)}").fetchall()  # noqa: S608
                values |= {str(v) for (v,) in rows}
    return values


def _word(text: str) -> str:
    """The scan's form of a word, as the GP master keys names (A-Z only, upper case)."""
    return "".join(ch for ch in text.upper() if "A" <= ch <= "Z")


def scan_identifiers(con: duckdb.DuckDBPyConnection, names: NameDigests | None = None) -> list[IdentifierHit]:
    """Scan every text column of every table on ``con``; raise `IdentifierFound` on any hit.

    ``names`` are the GP master's names as keyed digests (without them the name check is skipped).
    Returns the (empty) list of hits when the warehouse is clean.
    """
    tables = _text_columns(con)
    vocabulary = _vocabulary(con, tables) if names is not None and len(names) else set()
    hits = _all_hits(con, tables, names if names is not None and len(names) else None, vocabulary)
    if hits:
        raise IdentifierFound(hits)
    return hits
