"""Benchmarks of the ingest and alert paths against a real broker and database (not run by default).

Run the suite and print the table: ``python -m tests.benchmarks [--quick] [--out FILE]``;
as tests: ``KUZET_BENCH=1 pytest tests/benchmarks`` (or ``--run-benchmarks``). The results and
their analysis live in ``docs/performance.md``.
"""
