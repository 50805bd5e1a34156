"""Data quality: asset checks on the pseudonymised sources and the warehouse tables, and the report."""
