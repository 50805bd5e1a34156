"""Benchmarks and the synthetic truth: the only package (with `phm generate` and the demo set-up) that
imports `synthetic/` or reads `DATA/truth/`.

Product packages (connectors, linkage, pseudonymisation, quality, cohort, pipelines) never see the
generator or its answer key, so nothing the pipeline does can depend on knowing the right answer. Here:

- `bench.report`   timer, peak memory, the figures-then-one-JSON-line output, `BenchError`
- `bench.data`     benchmark sizes (what the 999 test range can hold) and cached benchmark data/homes
- `bench.generate` `phm bench generate`: the synthetic generator, timed
- `bench.pipeline` `phm bench pipeline`: landing -> warehouse stage by stage (the one caller of the
                   load steps in this package)
- `bench.model`    `phm bench model`: the risk model against the generator's oracle
- `bench.link_data`, `bench.link`  `phm bench link`: tracing of records with injected errors
- `bench.truth`    readers of `DATA/truth/` (model oracle, tracing accuracy on a loaded ICS)
- `bench.ingest`   `python -m bench.ingest`: connector read speed on generated files
"""
