"""The portal in a real headless browser: Debian's chromium driven by Playwright.

The records app runs under uvicorn on a loopback port over a seeded
deployment. Each page's screenshot is written to ``tests/portal/screenshots/``
(ignored by git). Without /usr/bin/chromium these tests are skipped, except
under CI, where `make setup` must have installed it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.portal.crawl import PAGES

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("/usr/bin/chromium is missing: `make setup` installs it", pytrace=False)
    pytest.skip(
        "the browser tests need Debian's chromium at /usr/bin/chromium (make setup installs it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


def _url(name: str) -> str:
    return "/portal" if name == "overview" else f"/portal/{name}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def _open(
    browser: Browser, base_url: str, path: str, *, script: bool = True
) -> tuple[Page, list[str]]:
    context = browser.new_context(base_url=base_url, java_script_enabled=script)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    reply = page.goto(path)
    assert reply is not None
    assert reply.status == 200, (path, reply.status)
    return page, errors


@pytest.mark.parametrize("name", PAGES)
def test_each_page_loads_without_console_errors_and_is_screenshotted(
    browser: Browser, base_url: str, name: str
) -> None:
    page, errors = _open(browser, base_url, _url(name))
    assert page.locator("h1").count() == 1
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    print(f"screenshot: {SCREENSHOTS / f'{name}.png'}")
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("name", PAGES)
def test_every_link_on_each_page_resolves(browser: Browser, base_url: str, name: str) -> None:
    page, _ = _open(browser, base_url, _url(name))
    hrefs = page.locator("a[href]").evaluate_all("els => els.map(e => e.href)")
    assert len(hrefs) >= len(PAGES)
    for href in hrefs:
        assert href.startswith(base_url), f"links off the site: {href}"
        target, _, fragment = href.partition("#")
        if fragment and target == page.url.partition("#")[0]:
            assert page.locator(f"#{fragment}").count() == 1, href
            continue
        reply = page.request.get(target)
        assert reply.status == 200, (href, reply.status)
    page.context.close()


def _cells(page: Page, table: str) -> list[list[str]]:
    cells: list[list[str]] = page.locator(f"#table-{table} tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.children).map(c => c.textContent.trim()))"
    )
    return cells


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value)


@pytest.mark.parametrize("name", PAGES)
def test_downloads_parse_and_agree_with_the_page(
    browser: Browser, base_url: str, name: str
) -> None:
    page, _ = _open(browser, base_url, _url(name))
    suffix = "?start=" + page.url.split("start=")[1] if "start=" in page.url else ""
    data = page.request.get(f"/portal/{name}.json{suffix}").json()
    assert data["page"] == name
    for key, fact in data["facts"].items():
        shown = page.locator(f"#fact-{key} dd").inner_text()
        assert shown.startswith(_shown(fact["value"])), (key, shown)
    for table_name, table in data["tables"].items():
        expected = [[_shown(row[c]) for c in table["columns"]] for row in table["rows"]]
        assert _cells(page, table_name) == expected, table_name
        link = page.locator(f"#heading-{table_name} ~ p.downloads a", has_text="CSV")
        reply = page.request.get(link.get_attribute("href") or "")
        assert reply.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(reply.text())))
        assert rows[0] == table["columns"]
        assert len(rows) - 1 == len(table["rows"])
    if name == "cameras":
        collection = json.loads(page.request.get("/portal/cameras.geojson").body())
        active = [r for r in data["tables"]["cameras"]["rows"] if r["status"] == "active"]
        assert [f["id"] for f in collection["features"]] == [r["id"] for r in active]
        for feature, row in zip(collection["features"], active, strict=True):
            assert feature["geometry"]["coordinates"] == [row["longitude"], row["latitude"]]
            assert feature["properties"]["surveillance:type"] == "ALPR"
        assert page.locator("svg.map g.camera").count() == len(active)
    page.context.close()


@pytest.mark.parametrize("name", PAGES)
def test_pages_work_without_javascript(browser: Browser, base_url: str, name: str) -> None:
    page, errors = _open(browser, base_url, _url(name), script=False)
    assert page.locator("h1").is_visible()
    assert page.locator("main section").count() >= 1
    if name == "audit":  # the pager and its form, by links and a GET form only
        page.goto("/portal/audit?start=20")
        page.get_by_role("link", name="First entries").click()
        assert "start=0" in page.url
        assert page.locator("#table-entries tbody tr").first.locator("th").inner_text() == "0"
        page.get_by_label("Show entries from number").fill("5")
        page.get_by_role("button", name="Show").click()
        assert page.url.endswith("start=5")
        assert page.locator("#table-entries tbody tr").first.locator("th").inner_text() == "5"
    assert errors == []
    page.context.close()


_CONTRAST = """() => {
  const channel = v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg")) continue;
    const text = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) failures.push(el.tagName + ": " + ratio.toFixed(2));
  }
  return failures;
}"""


@pytest.mark.parametrize("name", PAGES)
def test_basic_accessibility(browser: Browser, base_url: str, name: str) -> None:
    page, _ = _open(browser, base_url, _url(name))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").count() == 1
    for landmark in ("header", "nav", "main", "footer"):
        assert page.locator(landmark).count() >= 1, landmark
    assert page.locator("main").count() == 1
    # The first Tab reaches the skip link, and it leads to main.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.className, document.activeElement.getAttribute('href')]"
    )
    assert focused == ["skip", "#main"]
    assert page.locator("nav a[aria-current='page']").count() == 1
    for control in page.locator("input, select, textarea").all():
        control_id = control.get_attribute("id")
        labelled = control.get_attribute("aria-label") or (
            control_id and page.locator(f"label[for='{control_id}']").count() == 1
        )
        assert labelled, control_id
    for image in page.locator("img").all():
        assert image.get_attribute("alt") is not None
    for svg in page.locator("svg").all():
        assert svg.get_attribute("role") == "img"
        assert svg.locator("title").count() >= 1
    for table in page.locator("table").all():
        assert table.locator("caption").count() == 1
        assert table.locator("thead th:not([scope='col'])").count() == 0
        assert table.locator("tbody th:not([scope='row'])").count() == 0
    assert page.evaluate(_CONTRAST) == []
    page.context.close()
