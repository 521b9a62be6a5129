"""The live dashboard in headless Chromium, against the real `kukuri-trending api` process.

Checks that the page shows what the API says, that a newly committed snapshot appears without a
reload, that stale data raises the banner and that live numbers with the snapshot job disabled do
not, and that a viewer can rank the list by each computed score profile, with the topics new to
the top 10 marked; saves screenshots to test-artifacts/ (desktop and phone width). Needs Debian's `chromium` and `chromium-driver` packages and the `selenium` wheel.
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

from appdb.recompute import recompute_snapshot
from config.settings import Settings, load_settings
from streams.events import Event
from tests.api.support import REPO, add_facts, api_process, boundary, commit, commit_scored, create_db, execute, row

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
            entered: tr.querySelector('.entered')?.textContent ?? null,
            spark_points: (tr.querySelector('.spark .line')?.getAttribute('d').split(/[ML]/).length ?? 1) - 1,
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


def entered_top10(topic: dict[str, Any]) -> bool:
    """In the top 10 now, and below it or not ranked in the previous snapshot of the same profile
    (with a comparable previous snapshot: not `no_previous_snapshot` or `profile_changed`)."""
    if topic["rank"] > 10:
        return False
    if topic["previous_rank"] is not None:
        return bool(topic["previous_rank"] > 10)
    return topic["score_change_reason"] == "new_topic" or topic["score_change"] is not None


def expected_rows(api_body: dict[str, Any]) -> list[dict[str, str | None]]:
    def change(value: float | None, reason: str | None) -> str:
        if value is None:
            return "new" if reason == "new_topic" else "—"
        if round(value, 2) > 0:
            return f"▲ +{value:.2f}"
        if round(value, 2) < 0:
            return f"▼ −{-value:.2f}"
        return "– 0.00"

    return [
        {"topic_id": t["topic_id"], "rank": str(t["rank"]), "name": t["name"], "score": f"{t['trending_score']:.2f}",
         "change": change(t["score_change"], t["score_change_reason"]), "posts_24h": str(t["posts_24h"]),
         "entered": "New in top 10" if entered_top10(t) else None}
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


# ---- score profiles -------------------------------------------------------------------------------

# The shadow profiles of the profile test: boosts count ten times more than under the default, and
# the built-in rising profile.
PROFILES_CONFIG = """\
[metrics]
shadow_profiles = ["boosty", "rising"]

[metrics.score_profiles.boosty]
posts = 0.1
boosts = 1.0
"""
OLD_TOPICS = [t for t in NAMES if t not in ("ml", "travel")]
BASELINE_AGO = 29 * 60 * 60_000  # in both rising baselines: [E-48h, E-24h) and [E-30h, E-6h)


def topic_facts(topic: str, tag: str, at: int, posts: int, boosts: int, authors: int = 3) -> list[Event]:
    """`posts` posts by `authors` authors in turn and `boosts` boosts of the first one by distinct
    fans, one second apart before `at`."""
    facts = [Event(f"{topic}-{tag}-p{k}", "post", topic, f"{topic}-a{k % authors}", at - 1000 * (k + 1))
             for k in range(posts)]
    facts += [Event(f"{topic}-{tag}-b{k}", "boost", topic, f"{topic}-{tag}-fan{k}", at - 1000 * (k + 1),
                    f"{topic}-{tag}-p0") for k in range(boosts)]
    return facts


def profile_history(previous: int, e: int) -> list[Event]:
    """Old topic i: 12 - i posts by 3 authors and i boosts an hour before the previous snapshot, and
    (all but "books") the same a day earlier, so rising sees them as steady and "books" as rising.
    "travel": one post by one author before the previous snapshot (11th by default and boosty,
    unranked by rising), then 9 more posts by 3 authors and 6 boosts; "ml": 15 posts by 3 authors,
    both since the previous snapshot.

    By default the newest snapshot ranks ml, rust, nostr, travel (up from 11th), p2p, …, photo (8th
    before, 10th now), books, cooking; boosty ranks cooking, books, photo, travel (up from 11th), …,
    nostr, ml, rust; rising ranks ml, travel, books, rust, …, music, photo, cooking."""
    facts: list[Event] = []
    for i, topic in enumerate(OLD_TOPICS):
        facts += topic_facts(topic, "recent", previous - 3_600_000, 12 - i, i)
        if topic != "books":
            facts += topic_facts(topic, "base", e - BASELINE_AGO, 12 - i, i)
    facts += topic_facts("travel", "first", previous - 7_200_000, 1, 0, authors=1)
    facts += topic_facts("travel", "new", e - 10_000, 9, 6)
    facts += topic_facts("ml", "new", e - 60_000, 15, 0)
    return facts


def more_boosts(e: int) -> list[Event]:
    """Five more boosts of every topic, after boundary `e`."""
    return [Event(f"{t}-late-b{k}", "boost", t, f"{t}-late-fan{k}", e + 1000 * (k + 1),
                  f"{t}-new-p0" if t in ("ml", "travel") else f"{t}-recent-p0")
            for t in NAMES for k in range(5)]


async def commit_profiles(settings: Settings, e: int) -> None:
    """The snapshot for boundary `e` as the reconciliation computes it from kukuri's tables, every
    computed profile scored by the real code, written the way the sink does."""
    snap = await recompute_snapshot(settings.database.path, e, settings.metrics.profiles.computed, updated_at=e)
    await commit_scored(settings, snap, source="reconcile")


def profile_buttons(driver: WebDriver) -> list[tuple[str, str | None]]:
    """Each profile button's accessible name (what a screen reader announces) and `aria-pressed`."""
    return [(b.accessible_name, b.get_attribute("aria-pressed"))
            for b in driver.find_elements("css selector", "#profile-switch button")]


def marked(driver: WebDriver) -> list[str]:
    return [r["topic_id"] for r in rendered_rows(driver) if r["entered"] is not None]


def test_a_viewer_switches_between_computed_profiles(browser: WebDriver, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    db = tmp_path / "kukuri.db"
    config = tmp_path / "app.toml"
    config.write_text(PROFILES_CONFIG)
    settings = load_settings(config, environ={"KUKURI_DATABASE_PATH": str(db)})
    previous, e = boundary(5), boundary()

    async def seed() -> None:
        await create_db(db, list(NAMES))
        await add_facts(db, profile_history(previous, e))
        await commit_profiles(settings, previous)
        await commit_profiles(settings, e)

    run(seed())
    default_fingerprint = settings.metrics.profiles.active.fingerprint
    with api_process(db, config=config) as (url, _proc):
        browser.get(url + "/")
        Select(browser.find_element("id", "limit")).select_by_value("25")
        wait_for(browser, "return document.querySelectorAll('#topic-rows tr').length === 12")
        wait_for(browser, f"return document.body.dataset.historyFor === '{e}'")

        # The active profile is named, its fingerprint in the tooltip; every computed profile can be picked.
        shown_profile = browser.find_element("id", "profile-active")
        wait_for(browser, "return document.getElementById('profile-active').title.includes('fingerprint')")
        assert shown_profile.text == "default"
        assert default_fingerprint in (shown_profile.get_attribute("title") or "")
        assert profile_buttons(browser) == [
            ("default, the active profile", "true"), ("boosty", "false"), ("Rising", "false")]
        assert not browser.find_element("id", "view-note").is_displayed()

        active = get_json(f"{url}/api/trending/topics?limit=25")
        assert rendered_rows_without_sparks(browser) == expected_rows(active)
        ranked = {t["topic_id"]: (t["previous_rank"], t["rank"]) for t in active["topics"]}
        assert [t["topic_id"] for t in active["topics"]][:4] == ["ml", "rust", "nostr", "travel"]
        assert (ranked["travel"], ranked["photo"], ranked["books"]) == ((11, 4), (8, 10), (9, 11))
        # New to the top 10: "ml" (not in the previous snapshot) and "travel" (up from 11th); "photo"
        # stayed in the top 10 and "books" left it.
        assert marked(browser) == ["ml", "travel"]
        save_screenshots(browser, "dashboard-profiles")

        # Switched with the keyboard, the list is the shadow profile's own ranking, with its own marks.
        button = browser.find_element("css selector", "#profile-switch button[data-profile='boosty']")
        button.send_keys(Keys.SPACE)
        wait_for(browser, "return document.getElementById('topics').dataset.profile === 'boosty'")
        boosty = get_json(f"{url}/api/trending/topics?limit=25&profile=boosty")
        assert boosty["profile"]["name"] == "boosty" and boosty["profile"]["active"] is False
        assert rendered_rows_without_sparks(browser) == expected_rows(boosty)
        assert [t["topic_id"] for t in boosty["topics"]][:4] == ["cooking", "books", "photo", "travel"]
        assert marked(browser) == ["travel"]  # "ml" is new, but 11th
        assert profile_buttons(browser) == [
            ("default, the active profile", "false"), ("boosty", "true"), ("Rising", "false")]
        assert browser.find_element("id", "view-note").is_displayed()
        assert "boosty" in browser.find_element("id", "view-note").text
        assert browser.find_element("id", "profile-active").text == "default"  # still the active one
        save_screenshots(browser, "dashboard-profile-shadow")

        # The built-in rising profile: growth against each topic's own baseline, not size.
        browser.find_element("css selector", "#profile-switch button[data-profile='rising']").click()
        wait_for(browser, "return document.getElementById('topics').dataset.profile === 'rising'")
        rising = get_json(f"{url}/api/trending/topics?limit=25&profile=rising")
        assert rendered_rows_without_sparks(browser) == expected_rows(rising)
        assert [t["topic_id"] for t in rising["topics"]] == ["ml", "travel", "books", *OLD_TOPICS[:7], "photo",
                                                             "cooking"]
        # "travel" had too few authors to be ranked by rising before: new to its top 10 too.
        assert rising["topics"][1]["previous_rank"] is None and rising["topics"][1]["score_change"] is not None
        assert marked(browser) == ["ml", "travel"]
        assert profile_buttons(browser) == [
            ("default, the active profile", "false"), ("boosty", "false"), ("Rising", "true")]
        assert "Rising" in browser.find_element("id", "view-note").text
        save_screenshots(browser, "dashboard-profile-rising")

        # A new snapshot refreshes the shadow view without a reload; nothing in it is new any more.
        browser.find_element("css selector", "#profile-switch button[data-profile='boosty']").click()
        wait_for(browser, "return document.getElementById('topics').dataset.profile === 'boosty'")
        browser.execute_script("window.notReloaded = true")
        nxt = e + 300_000
        run(add_facts(db, more_boosts(e)))
        run(commit_profiles(settings, nxt))
        wait_for(browser, f"return document.body.dataset.generatedAt === '{nxt}'"
                          " && document.getElementById('topics').dataset.profile === 'boosty'", timeout=5)
        assert browser.execute_script("return window.notReloaded") is True
        boosty_after = get_json(f"{url}/api/trending/topics?limit=25&profile=boosty")
        assert rendered_rows_without_sparks(browser) == expected_rows(boosty_after)
        assert {r["change"] for r in rendered_rows(browser)} == {"▲ +5.00"}
        assert marked(browser) == []

        # A snapshot written by a worker that did not compute the shadow: the view says so, and the
        # active profile's list is still one click away.
        last = nxt + 300_000
        run(commit(db, last, [row(t, last, 50.0 - i) for i, t in enumerate(NAMES)]))
        wait_for(browser, "return document.body.dataset.viewProblem === 'profile_not_computed'", timeout=5)
        assert rendered_rows(browser) == []
        assert "holds no scores of profile 'boosty'" in browser.find_element("id", "empty").text
        browser.find_element("css selector", "#profile-switch button[data-profile='default']").click()
        wait_for(browser, "return document.getElementById('topics').dataset.profile === ''"
                          f" && document.body.dataset.historyFor === '{last}'")
        assert rendered_rows_without_sparks(browser) == expected_rows(get_json(f"{url}/api/trending/topics?limit=25"))
        assert [r["topic_id"] for r in rendered_rows(browser)] == list(NAMES)
        assert all(r["spark_points"] == 4 for r in rendered_rows(browser) if r["topic_id"] not in ("ml", "travel"))
        assert profile_buttons(browser) == [
            ("default, the active profile", "true"), ("boosty", "false"), ("Rising", "false")]
        assert not browser.find_element("id", "view-note").is_displayed()
