"""Answer-quality benchmark: dataset validation, metrics, benchmark runner and report writers.

`dataset.load_dataset` -> `runner.run_benchmark` (scores with `metrics`) -> `report.write_report`.
How answers are produced is not this package's business: each configuration is a callable.
"""
