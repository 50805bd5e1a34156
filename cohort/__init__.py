"""cohort: person features -> risk tiers and segments -> declarative cohorts; aggregates with disclosure control.

- `cohort.features`: the features-table contract (`FEATURE_COLUMNS`) that definitions filter on.
- `cohort.frailty`: eFI score and category, as polars expressions and as DuckDB SQL fragments.
- `cohort.schema`: the cohort YAML schema (pydantic), `parse_definition`, `load_cohorts`.
- `cohort.definitions`: `compile` to bound DuckDB SQL (`SettingTable`), re-exporting the schema names.
  Example definitions ship in `cohort/definitions/*.yaml`.
- disclosure control for anything published as counts lives in `core.disclosure` (every stage uses it).
"""
