"""Render Superset dashboards in headless Chromium and report what each chart received and showed.

Runs in the Superset environment (``.venv-bi``, which pins Playwright) and drives Debian's
``/usr/bin/chromium`` (Playwright's own browser download is not needed)::

    .venv-bi/bin/python bi/render.py --url http://127.0.0.1:8088 --user admin \\
        --password-file <state>/loyalty.duckdb.superset/admin_password \\
        --dashboard month-end-pack=docs/bi_month_end_pack.png --dashboard operations --out result.json

For each dashboard it logs in as a person would, opens ``/superset/dashboard/<slug>/``, keeps
every ``/api/v1/chart/data`` answer the page receives (the figures the charts draw), waits until
each chart of the dashboard has answered and drawn itself, and writes one JSON report: per
chart its id, name, HTTP status, the rows of each query, any error message, and whether the
page shows it drawn (a canvas, svg or table in its holder, no error alert). The caller judges
the report (tests_py/test_bi_superset.py). Exit status 0 when the report was written, 2 when
the page could not be used at all (login refused, dashboard missing, nothing answered in time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# wide enough for the 12-column grid, tall enough that no chart waits for a scroll
VIEWPORT = {"width": 1600, "height": 1200}


class RenderError(RuntimeError):
    """The page could not be rendered at all; the message says which step failed."""


def log_in(page: Page, url: str, user: str, password: str) -> None:
    """Log in through Superset's login form. Raises RenderError when the login is refused."""
    page.goto(f"{url}/login/")
    page.fill('input[name="username"], #username', user)
    page.fill('input[name="password"], #password', password)
    page.keyboard.press("Enter")
    try:
        page.wait_for_url("**/superset/welcome/**", timeout=30_000)
    except Exception as error:  # Playwright's TimeoutError
        raise RenderError(f"logging in as {user!r} at {url} failed (still on {page.url})") from error


def dashboard_charts(page: Page, url: str, slug: str) -> list[dict[str, Any]]:
    """The charts of dashboard ``slug`` (id, slice_name, viz_type) from Superset's API, with the
    page's session. Raises RenderError when the dashboard does not exist."""
    response = page.request.get(f"{url}/api/v1/dashboard/{slug}/charts")
    if response.status != 200:
        raise RenderError(f"dashboard {slug!r}: /api/v1/dashboard/{slug}/charts answered {response.status}")
    return [
        {"id": chart["id"], "name": chart["slice_name"], "viz_type": chart["form_data"].get("viz_type")}
        for chart in response.json()["result"]
    ]


def _drawn(page: Page, chart_id: int) -> dict[str, Any]:
    holder = page.locator(f'[data-test-chart-id="{chart_id}"]')
    if holder.count() == 0:
        return {"drawn": False, "alert": None}  # not on the page (yet)
    alerts = holder.locator(".ant-alert-error, [role='alert']")
    alert = alerts.first.inner_text() if alerts.count() else None
    drawn = holder.locator("canvas, svg, table").count() > 0
    return {"drawn": drawn and alert is None, "alert": alert}


def render_dashboard(
    page: Page, url: str, slug: str, screenshot: Path | None, timeout_s: float = 180
) -> dict[str, Any]:
    """Open dashboard ``slug``, wait for every chart's data and drawing, optionally take a
    screenshot, and return the report of the dashboard (see the module docstring). Raises
    RenderError when the dashboard is missing or no chart answered within ``timeout_s``."""
    charts = dashboard_charts(page, url, slug)
    answers: dict[int, dict[str, Any]] = {}

    def keep(response) -> None:
        if "/api/v1/chart/data" not in response.url:
            return
        try:
            form_data = json.loads(response.request.post_data or "{}").get("form_data", {})
        except json.JSONDecodeError:
            return
        try:
            body = response.json()
        except Exception as error:  # not JSON: an HTML error page
            body = {"message": f"not JSON ({error})"}
        answers[form_data.get("slice_id")] = {"status": response.status, "body": body}

    page.on("response", keep)
    page.goto(f"{url}/superset/dashboard/{slug}/")
    wanted = {chart["id"] for chart in charts}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # a chart is done once it answered and is drawn, or shows its error alert
        if wanted <= set(answers) and all(
            (state := _drawn(page, chart_id))["drawn"] or state["alert"] for chart_id in wanted
        ):
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)  # let the ECharts animations settle before the picture
    page.remove_listener("response", keep)
    if not answers:
        raise RenderError(f"dashboard {slug!r}: no chart asked for data within {timeout_s:.0f} s")
    report = []
    for chart in charts:
        answer = answers.get(chart["id"])
        queries, error = [], None
        if answer is None:
            error = f"no data answer within {timeout_s:.0f} s"
        else:
            body = answer["body"]
            if answer["status"] != 200:
                error = body.get("message") or body.get("errors") or f"HTTP {answer['status']}"
            for query in body.get("result", []):
                queries.append({"colnames": query.get("colnames"), "data": query.get("data")})
                if query.get("error"):
                    error = query["error"]
        report.append(
            {
                **chart,
                "status": answer and answer["status"],
                "error": error,
                "queries": queries,
                **_drawn(page, chart["id"]),
            }
        )
    page_alerts = [text for text in page.locator(".ant-alert-error").all_inner_texts() if text.strip()]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    return {"slug": slug, "charts": report, "page_alerts": page_alerts, "screenshot": screenshot and str(screenshot)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Superset's address, e.g. http://127.0.0.1:8088")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument(
        "--dashboard", action="append", required=True, help="SLUG or SLUG=PICTURE.png (a full-page screenshot)"
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON report")
    args = parser.parse_args(argv)
    password = args.password_file.read_text(encoding="utf-8").strip()
    reports = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_context(viewport=VIEWPORT).new_page()
                log_in(page, args.url, args.user, password)
                for item in args.dashboard:
                    slug, _, picture = item.partition("=")
                    reports.append(render_dashboard(page, args.url, slug, Path(picture) if picture else None))
            finally:
                browser.close()
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(reports, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
