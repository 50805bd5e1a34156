"""The `phm` command line: generate, run, bench, ui (see `phm --help`)."""
