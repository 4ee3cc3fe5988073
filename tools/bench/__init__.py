"""Benchmarks of the build, the artifacts, the handlers' cold and warm paths, scale, deploy and
`make local` (issue #9). `make bench` runs them all (tools/bench/run.py) and writes
docs/benchmarks.md; each bench_*.py also runs alone: `.venv/bin/python -m tools.bench.bench_warm`.

Not part of `make test`: the numbers depend on the machine and its load, so nothing here is
asserted, only reported against its target."""
