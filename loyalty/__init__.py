"""The core library: settings, the landing contract and loader, engines, lock, outcome,
alerts and reporting. It never imports Dagster (tests_py/test_architecture.py holds it to that)."""
