"""Superset's configuration for `make bi` (SUPERSET_CONFIG_PATH names this file).

It reads only what ``bi/serve.py`` puts in Superset's environment, from the warehouse's
settings (loyalty/settings.py): where the metadata database is and the file holding the secret
key, both in the state folder. Nothing machine-specific is written here.
"""

import os
from pathlib import Path

# bi/serve.py sets both; a KeyError here means Superset was started without it.
SQLALCHEMY_DATABASE_URI = os.environ["BI_METADATA_URI"]
SECRET_KEY = Path(os.environ["BI_SECRET_KEY_FILE"]).read_text(encoding="utf-8").strip()

# No caching of query results: each publish replaces the warehouse file (os.replace), and a
# cached result would outlive it. Superset's default already is NullCache; this says it on purpose.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

FEATURE_FLAGS = {
    # render every chart of a dashboard, not only those in the viewport: a dashboard is a
    # month-end pack to read (and bi-test checks every chart and takes one picture)
    "DASHBOARD_VIRTUALIZATION": False,
}
