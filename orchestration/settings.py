"""Where things are, from the environment (CONTRACT §1), resolved once."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
TARGETS = ("duckdb", "postgres", "spark")

# DuckDB 2.0 writes a storage format DuckDB 1.x cannot open by default; BI drivers embed 1.x.
DUCKDB_FILE_CONFIG = {"storage_compatibility_version": "v1.0.0"}


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse: Path
    target: str

    @property
    def work_copy(self) -> Path:
        """The file a refresh builds and checks before it replaces the published warehouse."""
        return self.warehouse.with_name(self.warehouse.name + ".work")

    @property
    def dbt_target_dir(self) -> Path:
        """dbt artifacts and the refresh log of this warehouse (one folder per warehouse file,
        so refreshes of different warehouses never share artifacts)."""
        digest = hashlib.sha1(str(self.warehouse).encode()).hexdigest()[:10]
        return PROJECT_DIR / "target" / "refresh" / f"{self.warehouse.stem}-{digest}"

    @property
    def report_path(self) -> Path:
        return self.warehouse.with_name("reconciliation_report.html")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    target = env.get("LOYALTY_TARGET", "duckdb")
    if target not in TARGETS:
        raise ValueError(f"LOYALTY_TARGET={target!r} is not one of {', '.join(TARGETS)}")
    landing = Path(env.get("LOYALTY_LANDING_DIR") or PROJECT_DIR / "demo" / "landing").expanduser().resolve()
    warehouse = Path(env.get("LOYALTY_WAREHOUSE") or PROJECT_DIR / "warehouse" / "loyalty.duckdb")
    return Settings(landing_dir=landing, warehouse=warehouse.expanduser().resolve(), target=target)
