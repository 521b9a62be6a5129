"""The live dashboard in headless Chromium, against the real `kukuri-trending api` process.

Checks that the page shows what the API says, that a newly committed snapshot appears without a
reload, that stale data raises the banner and that live numbers with the snapshot job disabled do
not; saves screenshots to test-artifacts/ (desktop and phone width). Needs Debian's `chromium` and `chromium-driver` packages and the `selenium` wheel.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from streams.events import Event
from tests.api.support import REPO, add_facts, api_process, boundary, commit, create_db, execute, row

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "test-artifacts"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed: apt-get install chromium chromium-driver"),
]

NAMES = {
    "rust": "Rust", "nostr": "Nostr", "p2p": "P2P networking", "tauri": "Tauri", "sqlite": "SQLite",
    "design": "Design", "music": "Music", "photo": "Photography", "books": "Books", "cooking": "Cooking",
    "travel": "Travel", "ml": "Machine learning",
}


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run database setup in its own thread and loop, apart from pytest-asyncio's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--lang=en-US", "--hide-scrollbars", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, script: str, timeout: float = 10.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(script))


def rendered_rows(driver: WebDriver) -> list[dict[str, str]]:
    return driver.execute_script("""
        return [...document.querySelectorAll('#topic-rows tr')].map(tr => ({
            topic_id: tr.dataset.topicId,
            rank: tr.querySelector('.rank').textContent,
            name: tr.querySelector('.topic-name').textContent,
            score: tr.querySelector('.score').textContent,
            change: tr.querySelector('.change').textContent,
            posts_24h: tr.querySelectorAll('.cell-stat')[0].lastChild.textContent,
            spark_points: tr.querySelector('.spark .line').getAttribute('d').split(/[ML]/).length - 1,
        }));
    """)


def rendered_rows_without_sparks(driver: WebDriver) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "spark_points"} for r in rendered_rows(driver)]


def shown_numbers(driver: WebDriver) -> str:
    """Every text and accessible label of the topic table (scores appear in titles and sparkline labels too)."""
    return driver.execute_script("""
        const table = document.getElementById('topic-rows');
        const labels = [...table.querySelectorAll('[title], [aria-label]')]
            .map(node => `${node.getAttribute('title') || ''} ${node.getAttribute('aria-label') || ''}`);
        return [table.textContent, ...labels].join(' ');
    """)


def expected_rows(api_body: dict[str, Any]) -> list[dict[str, str]]:
    def change(value: float | None) -> str:
        if value is None:
            return "new"
        if round(value, 2) > 0:
            return f"▲ +{value:.2f}"
        if round(value, 2) < 0:
            return f"▼ −{-value:.2f}"
        return "– 0.00"

    return [
        {"topic_id": t["topic_id"], "rank": str(t["rank"]), "name": t["name"], "score": f"{t['trending_score']:.2f}",
         "change": change(t["score_change"]), "posts_24h": str(t["posts_24h"])}
        for t in api_body["topics"]
    ]


def save_screenshots(driver: WebDriver, name: str) -> None:
    """Full-page screenshots at desktop width and, emulating a phone, at 390 px."""
    ARTIFACTS.mkdir(exist_ok=True)
    for suffix, width, scale, mobile in (("", 1280, 1, False), ("-phone", 390, 2, True)):
        metrics = {"width": width, "height": 900, "deviceScaleFactor": scale, "mobile": mobile}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width, "page overflows"
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        (ARTIFACTS / f"{name}{suffix}.png").write_bytes(base64.b64decode(shot["data"]))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


async def trending_history(db: Path) -> int:
    """Twelve topics with six snapshots of history, the newest one fresh; returns its boundary."""
    await create_db(db, list(NAMES))
    for topic, name in NAMES.items():
        await execute(db, f"UPDATE topics SET name = '{name}' WHERE topic_id = '{topic}'")
    e = boundary()
    for age in range(5, -1, -1):
        end = e - age * 300_000
        rows = [
            row(t, end, round(3.0 + ((i * 7 + age * 3) % 11) * 1.7, 2), score_6h=float(i % 3),
                posts_24h=20 + i * 3 - age, posts_6h=5 + i, unique_authors=4 + i, boosts=i * 2)
            for i, t in enumerate(NAMES) if not (t == "ml" and age > 0)  # "ml" is new in the newest snapshot
        ]
        await commit(db, end, rows)
    return e


def test_the_dashboard_shows_the_api_and_follows_new_snapshots(browser: WebDriver, tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    e = run(trending_history(db))

    with api_process(db) as (url, _proc):
        browser.get(url + "/")
        wait_for(browser, f"return document.body.dataset.historyFor === '{e}'")
        api_body = get_json(f"{url}/api/trending/topics?limit=10")
        shown = rendered_rows(browser)
        assert rendered_rows_without_sparks(browser) == expected_rows(api_body)
        assert all(r["spark_points"] == 6 for r in shown if r["topic_id"] != "ml")
        assert browser.find_element("id", "connection-label").text == "Live"
        assert browser.find_element("id", "health-status").text == "Healthy"
        assert browser.find_element("id", "health-source").text == "Metrics"
        assert not browser.find_element("id", "stale-banner").is_displayed()
        save_screenshots(browser, "dashboard")

        # A new snapshot, committed by another process, shows up without a reload; its scores carry
        # float noise (0.1 + 0.2), which no part of the page may show.
        browser.execute_script("window.notReloaded = true")
        nxt = e + 300_000
        noisy = [row(t, nxt, 30.0 - i + 0.1 + 0.2, score_6h=0.1 * 3 * i, posts_24h=40 - i)
                 for i, t in enumerate(reversed(NAMES))]
        run(commit(db, nxt, noisy))
        wait_for(browser, f"return document.body.dataset.historyFor === '{nxt}'", timeout=5)
        assert browser.execute_script("return window.notReloaded") is True
        api_after = get_json(f"{url}/api/trending/topics?limit=10")
        assert rendered_rows_without_sparks(browser) == expected_rows(api_after)
        assert [t["topic_id"] for t in api_after["topics"]] == list(reversed(NAMES))[:10]
        assert not re.search(r"\d\.\d{3}", shown_numbers(browser))


def test_stale_data_raises_the_banner(browser: WebDriver, tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"

    async def stale() -> int:
        await create_db(db, list(NAMES)[:4])
        old = boundary(45)
        await commit(db, old, [row(t, old, 10.0 - i) for i, t in enumerate(list(NAMES)[:4])])
        await add_facts(db, [Event("p1", "post", "rust", "alice", boundary() - 60_000)])
        await execute(db, "DROP TABLE events")  # no live fallback either: the stale snapshot is served
        return old

    old = run(stale())
    with api_process(db) as (url, _proc):
        browser.get(url + "/")
        wait_for(browser, "return document.body.dataset.stale === 'true'")
        banner = browser.find_element("id", "stale-banner")
        assert banner.is_displayed()
        assert "stale" in banner.text.lower() and "live numbers are unavailable" in banner.text
        assert browser.execute_script("return document.body.dataset.generatedAt") == str(old)
        wait_for(browser, "return document.getElementById('health-status').textContent === 'Stale'")
        save_screenshots(browser, "dashboard-stale")


def test_disabled_snapshots_show_live_numbers_without_the_banner(browser: WebDriver, tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"

    async def disabled() -> None:
        await create_db(db, list(NAMES)[:4])
        old = boundary(45)  # left from before the job was disabled: not lateness now
        await commit(db, old, [row(t, old, 10.0 - i) for i, t in enumerate(list(NAMES)[:4])])
        e = boundary()
        await add_facts(db, [Event("p1", "post", "rust", "alice", e - 60_000),
                             Event("p2", "post", "nostr", "bob", e - 120_000),
                             Event("p3", "post", "rust", "carol", e - 180_000)])

    run(disabled())
    with api_process(db, ("KUKURI_METRICS_ENABLED", "0")) as (url, _proc):
        browser.get(url + "/")
        wait_for(browser, "return document.getElementById('health-source').textContent === 'Live'")
        assert browser.find_element("id", "health-source-note").text == "snapshots disabled"
        api_body = get_json(f"{url}/api/trending/topics?limit=10")
        assert (api_body["data_source"], api_body["stale"]) == ("fallback", False)
        wait_for(browser, f"return document.body.dataset.generatedAt === '{api_body['generated_at']}'")
        assert rendered_rows_without_sparks(browser) == expected_rows(api_body)
        assert [r["topic_id"] for r in rendered_rows(browser)] == ["rust", "nostr"]
        assert browser.execute_script("return document.body.dataset.stale") == "false"
        assert not browser.find_element("id", "stale-banner").is_displayed()
        assert browser.find_element("id", "health-status").text == "Disabled"
        save_screenshots(browser, "dashboard-disabled")
