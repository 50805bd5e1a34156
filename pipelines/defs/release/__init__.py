"""Governed release: the `release_cohort` op job and the transparency report."""
