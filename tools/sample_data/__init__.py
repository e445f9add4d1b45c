"""Deterministic sample data for the loyalty warehouse: a landing folder and its ground truth.

``python -m tools.sample_data --out LANDING --truth TRUTH`` writes every landing source
of docs/landing.md with known faults injected, and the truth a correct warehouse must report.
Same arguments, same bytes. ``--feed-anomalies`` adds a quiet and a flood feed day (feeds.py).
"""

from tools.sample_data.config import Config, ConfigError
from tools.sample_data.generate import Result, generate

__all__ = ["Config", "ConfigError", "Result", "generate"]
