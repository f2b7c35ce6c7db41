"""The benchmark driver behind tools/benchmark (runtime/benchmarks/README.md).

A run is a list of groups (GROUPS in main.py), each a module here with a Group object:
native (C++ throughput), native_memory, python (throughput per loop), python_memory, echo (pending
the I/O layer), suite (the conformance matrix's wall time, with --suite). Each group yields
records; report.py renders docs/benchmarks.md and the chart, main.py writes docs/benchmarks.json.
"""
