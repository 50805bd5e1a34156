"""Cohort: features, risk model, scores, segments, cohorts, aggregates and their publication; checks on
the model and the cohorts."""
