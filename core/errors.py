"""One error base class per outcome, and the exit code each outcome ends a `phm` command with.

The CLI maps exceptions to exit codes in one place (`phm.cli.main`) from these classes, so a cron job
or a CI step can tell a refusal from a usage slip from a bug:

==== ===================================================================================
code outcome
==== ===================================================================================
0    success
1    refused or failed: a denied release, a failed audit verification, a refused rotation
     or extract, a failed run, a bad input file
2    usage error: an option or argument that cannot be used as given
3    internal error: anything unexpected (shown by type only; its message could quote data)
==== ===================================================================================

Messages of these errors are written for the user: they name files, columns, line numbers, reason
codes and counts, never a patient value, because they reach stderr, logs and Dagster run records.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class PhmError(Exception):
    """Base of every error this project raises on purpose; ``exit_code`` says how `phm` ends."""

    exit_code: int = EXIT_REFUSED


class Refused(PhmError):
    """A governed action was refused or a run failed; the message says why (exit 1)."""

    exit_code = EXIT_REFUSED


class UsageError(PhmError):
    """An option, argument or setting cannot be used as given (exit 2)."""

    exit_code = EXIT_USAGE


class InternalError(PhmError):
    """Something that should not happen did; shown by type and message, which we wrote (exit 3)."""

    exit_code = EXIT_INTERNAL
