"""Deterministic sample data for the loyalty warehouse: a landing folder and its ground truth.

``python -m orchestration.sample_data --out LANDING --truth TRUTH`` writes every landing source
of CONTRACT.md §2 with known faults injected, and the truth a correct warehouse must report.
Same arguments, same bytes.
"""

from orchestration.sample_data.config import Config, ConfigError
from orchestration.sample_data.generate import Result, generate

__all__ = ["Config", "ConfigError", "Result", "generate"]
