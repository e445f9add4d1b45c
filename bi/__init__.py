"""The BI tool of the warehouse: Apache Superset with the dashboards shipped as code (`make bi`).

serve.py prepares and runs Superset (in its own environment, ``.venv-bi``); render.py draws the
dashboards in headless Chromium for `make bi-test`; superset_config.py is Superset's
configuration; superset/bundle/ holds the exported dashboards.
"""
