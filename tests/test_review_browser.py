"""The review page in a real browser (headless Chromium) over real Prefect runs.

Two episodes are produced with the CLI against the session's Prefect server; an editor
opens the queue, watches one load in the player, approves it, and rejects the other
with notes. Both runs resume through Prefect and reach their final states.
Needs Debian's `chromium` and `chromium-driver` and the `selenium` package.

With REELGATE_DOC_SCREENSHOTS=DIR (`make screenshots` sets docs/img), the first test also
saves what the README shows: the review page of an episode at its gate (review-page.png)
and that episode's flow run in the Prefect UI (prefect-run.png), each after checking the
page shows what the picture is for.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from editorial.manifest import load_manifest
from cli import main

pytestmark = pytest.mark.integration

STORY_APPROVE = "At dawn a small boat drifts across a calm lake. A heron lifts off the water."
STORY_REJECT = "An owl watches the moon over an old barn."
NOTES = "<b>too dark</b> & the barn is missing"


def _browser_paths() -> tuple[str, str] | None:
    real = Path("/usr/lib/chromium/chromium")  # Debian's binary behind the /usr/bin wrapper script
    browser = str(real) if real.is_file() else shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture()
def browser():
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    paths = _browser_paths()
    if paths is None:
        pytest.skip("no chromium and chromedriver found (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    yield driver
    driver.quit()


SCREENSHOTS = "REELGATE_DOC_SCREENSHOTS"
SCREENSHOT_MAX_BYTES = 300_000


def _save_screenshot(driver, name: str) -> None:
    """The browser's viewport as DIR/name when REELGATE_DOC_SCREENSHOTS=DIR; kept under 300 KB for the README."""
    folder = os.environ.get(SCREENSHOTS)
    if not folder:
        return
    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)
    if path.stat().st_size > SCREENSHOT_MAX_BYTES:  # a video frame on the page: 256 colours are plenty
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    assert path.stat().st_size <= SCREENSHOT_MAX_BYTES, f"{path} is {path.stat().st_size} bytes"


def _check_review_page_picture(driver) -> None:
    """An episode's page as a reviewer sees it at the gate: the player showing a frame,
    the findings, the three decisions; the whole top of the page in the picture."""
    from selenium.webdriver.common.by import By

    player = "document.getElementById('player')"
    _wait(driver, lambda d: d.execute_script(f"return {player}.readyState >= 1 && {player}.duration > 0;"), 30,
          "the video element did not load its metadata")
    driver.execute_script(f"{player}.currentTime = {player}.duration * 0.6;")
    _wait(driver, lambda d: d.execute_script(f"return !{player}.seeking && {player}.readyState >= 2;"), 10,
          "the player did not show the frame it was moved to")
    assert "Findings" in driver.find_element(By.TAG_NAME, "body").text
    for decision in ("approve", "reject", "regenerate"):
        assert driver.find_element(By.CSS_SELECTOR, f'button[type=submit][value="{decision}"]').is_displayed()
    size = driver.get_window_size()
    driver.set_window_size(1280, 1100)  # down to the decision buttons
    driver.execute_script("window.scrollTo(0, 0);")
    _save_screenshot(driver, "review-page.png")
    driver.set_window_size(size["width"], size["height"])


def _check_prefect_run_page(driver, manifest) -> None:
    """The episode's flow run in Prefect's own UI, opened with the server's secret as a person signs in:
    the run is there, suspended at its gate, with the Resume button that shows the decision form."""
    from selenium.webdriver.common.by import By

    from flows.server import ui_url

    run_page = ui_url(manifest.flow_run_id)
    origin = run_page.split("/runs/")[0]
    driver.get(origin + "/api/health")  # the UI's origin, to hold the secret where its code looks for it
    secret = os.environ["PREFECT_API_AUTH_STRING"]
    driver.execute_script("localStorage.setItem('prefect-password', arguments[0]);",
                          base64.b64encode(secret.encode()).decode())
    driver.get(run_page)
    body = lambda d: d.find_element(By.TAG_NAME, "body").text  # noqa: E731
    shown = (manifest.episode_id, "Suspended", "produce-episode")  # the run, its state, its flow
    _wait(driver, lambda d: all(text in body(d) for text in shown), 60,
          f"the Prefect UI did not show the suspended flow run: {shown}")
    resume = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Resume"]
    assert resume and resume[0].is_displayed(), "no Resume button on the suspended run"
    time.sleep(2)  # the run's graph draws itself after the text is there
    _save_screenshot(driver, "prefect-run.png")


def _wait(driver, condition, timeout_s: float, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.5).until(condition, message)


def _open_from_queue(driver, page, episode_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(page.base_url + "/")
    driver.find_element(By.CSS_SELECTOR, f'tr[data-episode="{episode_id}"] a').click()
    _wait(driver, lambda d: d.current_url.endswith(f"/episodes/{episode_id}"), 10, "episode page did not open")


def _decide(driver, decision: str, notes: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "notes").send_keys(notes)
    driver.find_element(By.CSS_SELECTOR, f'button[type=submit][value="{decision}"]').click()
    _wait(driver, lambda d: d.find_element(By.ID, "result").text.startswith("Done:"), 600,
          f"the {decision} decision did not reach a final state")


def test_editor_approves_one_episode_and_rejects_another_in_the_browser(prefect_server, browser, capsys):
    from selenium.webdriver.common.by import By

    from flows.desk import start_review_page

    settings = prefect_server
    assert main(["episode", STORY_APPROVE, "--id", "page-approve", "--title", "Boat <i>at dawn</i>"]) == 0
    assert main(["episode", STORY_REJECT, "--id", "page-reject"]) == 0
    capsys.readouterr()

    page = start_review_page(settings, port=0)
    try:
        # The printed URL carries the token; the page trades it for a cookie.
        browser.get(page.url)
        assert "token=" not in browser.current_url
        ids = [row.get_attribute("data-episode") for row in browser.find_elements(By.CSS_SELECTOR, "tr.item")]
        assert ids.index("page-reject") < ids.index("page-approve"), f"queue is not newest first: {ids}"
        assert "Boat <i>at dawn</i>" in browser.find_element(By.ID, "queue").text  # the title as text

        _open_from_queue(browser, page, "page-approve")
        loaded = "const v = document.getElementById('player'); return v.readyState >= 1 && v.duration > 0;"
        _wait(browser, lambda d: d.execute_script(loaded), 30, "the video element did not load its metadata")
        duration = browser.execute_script("return document.getElementById('player').duration;")
        assert 3.0 < duration < 30.0
        # Seeking: the second shot's start button moves the player there (ranges served).
        second = browser.find_elements(By.CSS_SELECTOR, "#plan button.seek")[1]
        second.click()
        target = float(second.get_attribute("data-time"))
        _wait(browser, lambda d: abs(d.execute_script("return document.getElementById('player').currentTime;")
                                     - target) < 0.2, 10, "clicking a time did not seek the player")
        # The form carries the version on the page: the approval is about these bytes.
        version = load_manifest(settings.episodes_dir / "page-approve").version.id
        assert browser.find_element(By.CSS_SELECTOR, 'input[name="version"]').get_attribute("value") == version
        assert version in browser.find_element(By.TAG_NAME, "body").text
        for decision in ("approve", "reject", "regenerate"):
            assert browser.find_element(By.CSS_SELECTOR, f'button[type=submit][value="{decision}"]').is_displayed()
        _decide(browser, "approve", "lovely boat")
        assert browser.find_element(By.ID, "status").text == "published"

        _open_from_queue(browser, page, "page-reject")
        _check_review_page_picture(browser)
        # The same run in Prefect's UI (its run name is the episode id); then back to decide.
        _check_prefect_run_page(browser, load_manifest(settings.episodes_dir / "page-reject"))
        _open_from_queue(browser, page, "page-reject")
        _decide(browser, "reject", NOTES)
        assert browser.find_element(By.ID, "status").text == "rejected"
        browser.refresh()
        assert NOTES in browser.find_element(By.TAG_NAME, "body").text  # the notes, shown as typed
        page.desk.join()
    finally:
        page.stop()

    approved = load_manifest(settings.episodes_dir / "page-approve")
    rejected = load_manifest(settings.episodes_dir / "page-reject")
    assert approved.status.value == "published" and approved.review.notes == "lovely boat"
    assert approved.review.decided_on.id == version and approved.review.reviewer == "owner"
    assert approved.review.authenticated  # signed by the page, not typed
    assert rejected.status.value == "rejected" and rejected.review.notes == NOTES
    assert (settings.publish_dir / "page-approve" / "episode.mp4").is_file()
    assert not (settings.publish_dir / "page-reject").exists()
    feed = settings.publish_dir / "feed.json"
    assert feed.is_file(), "no feed.json in the publish folder (the review gate writes it on approve)"
    text = json.dumps(json.loads(feed.read_text(encoding="utf-8")))
    assert "page-approve" in text and "page-reject" not in text


def _keys(driver, keys: str) -> None:
    """Type `keys` to whatever has the focus (the page itself when nothing does), as a person would."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(keys).perform()


def _blur(driver) -> None:
    driver.execute_script("document.activeElement && document.activeElement.blur();")


def test_editor_moves_through_the_queue_and_decides_by_keyboard_with_a_confirmation(prefect_server, browser, capsys):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from flows.desk import start_review_page

    settings = prefect_server
    assert main(["episode", STORY_APPROVE, "--id", "keys-approve"]) == 0
    assert main(["episode", STORY_REJECT, "--id", "keys-reject"]) == 0
    capsys.readouterr()
    page = start_review_page(settings, port=0)
    try:
        browser.get(page.url)
        ids = [row.get_attribute("data-episode") for row in browser.find_elements(By.CSS_SELECTOR, "tr.item")]
        assert ids.index("keys-reject") < ids.index("keys-approve")
        # n moves down the queue as listed, Enter opens the selected one.
        _keys(browser, "n" * (ids.index("keys-reject") + 1) + Keys.ENTER)
        _wait(browser, lambda d: d.current_url.endswith("/episodes/keys-reject"), 10, "n + Enter did not open it")
        assert "keys-approve" in browser.find_element(By.ID, "next-episode").get_attribute("href")

        # r without notes asks for them (the gate would refuse) and puts the cursor there.
        _keys(browser, "r")
        assert not browser.find_element(By.ID, "confirm").is_displayed()
        assert browser.execute_script("return document.activeElement.id") == "notes"
        assert browser.find_element(By.ID, "result").text.startswith("Write notes first")
        # Typing in the notes box is typing: no key there chooses, confirms or navigates.
        notes = browser.find_element(By.ID, "notes")
        typed = "a r g n p f ? , . too dark"
        notes.send_keys(typed + Keys.ENTER)
        assert notes.get_attribute("value") == typed + "\n"
        assert not browser.find_element(By.ID, "confirm").is_displayed()
        assert not browser.find_element(By.ID, "help").is_displayed()
        assert browser.current_url.endswith("/episodes/keys-reject")
        # Nor with Alt or Ctrl held (the browser's and the system's own shortcuts).
        _blur(browser)
        for modifier in (Keys.ALT, Keys.CONTROL):
            ActionChains(browser).key_down(modifier).send_keys("a").key_up(modifier).perform()
        assert not browser.find_element(By.ID, "confirm").is_displayed()

        # A ticked shot box keeps the focus but takes no text: g asks to regenerate from there.
        browser.find_element(By.CSS_SELECTOR, 'input[name="shots"][value="1"]').click()
        _keys(browser, "g")
        assert browser.find_element(By.ID, "confirm").get_attribute("data-decision") == "regenerate"
        _keys(browser, Keys.ESCAPE)
        browser.find_element(By.CSS_SELECTOR, 'input[name="shots"][value="1"]').click()
        # r only asks; Esc cancels and nothing is sent.
        _keys(browser, "r")
        confirm = browser.find_element(By.ID, "confirm")
        assert confirm.is_displayed() and confirm.get_attribute("data-decision") == "reject"
        assert "Enter" in confirm.text
        _keys(browser, Keys.ESCAPE)
        assert not confirm.is_displayed()
        assert load_manifest(settings.episodes_dir / "keys-reject").status.value == "awaiting_review"
        # r, then Enter: the same POST as the button, with the notes typed and the version on screen.
        _keys(browser, "r" + Keys.ENTER)
        _wait(browser, lambda d: d.find_element(By.ID, "result").text.startswith("Done:"), 600,
              "the keyboard reject did not reach a final state")
        assert browser.find_element(By.ID, "status").text == "rejected"

        # p / n follow the queue; the approve goes the same way.
        browser.get(page.base_url + "/")
        ids = [row.get_attribute("data-episode") for row in browser.find_elements(By.CSS_SELECTOR, "tr.item")]
        _keys(browser, "n" * (ids.index("keys-approve") + 1) + Keys.ENTER)
        _wait(browser, lambda d: d.current_url.endswith("/episodes/keys-approve"), 10, "the queue did not open it")
        _keys(browser, "?")
        assert browser.find_element(By.ID, "help").is_displayed()
        _keys(browser, "?")
        _keys(browser, "a")
        assert browser.find_element(By.ID, "confirm").get_attribute("data-decision") == "approve"
        _keys(browser, Keys.ENTER)
        _wait(browser, lambda d: d.find_element(By.ID, "result").text.startswith("Done:"), 600,
              "the keyboard approve did not reach a final state")
        assert browser.find_element(By.ID, "status").text == "published"
        page.desk.join()
    finally:
        page.stop()
    rejected = load_manifest(settings.episodes_dir / "keys-reject")
    approved = load_manifest(settings.episodes_dir / "keys-approve")
    assert rejected.status.value == "rejected" and rejected.review.notes == typed + "\n"
    assert rejected.review.authenticated and rejected.review.decided_on.id == rejected.version.id
    assert approved.status.value == "published" and (settings.publish_dir / "keys-approve" / "episode.mp4").is_file()


def test_the_page_switches_to_chinese_and_the_new_episode_form_screens_a_blocked_story(prefect_server, browser):
    from selenium.webdriver.common.by import By

    from flows.desk import start_review_page

    page = start_review_page(prefect_server, port=0)
    try:
        browser.get(page.url)
        browser.find_element(By.CSS_SELECTOR, '#lang a[data-lang="zh"]').click()
        _wait(browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN", 10,
              "the switch did not show the page in Chinese")
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("待审核")
        browser.find_element(By.ID, "new-episode").click()  # the choice is remembered from page to page
        _wait(browser, lambda d: d.current_url.endswith("/new"), 10, "the new-episode form did not open")
        assert browser.find_element(By.TAG_NAME, "h1").text == "新建剧集"

        story = browser.find_element(By.ID, "story")
        start = browser.find_element(By.ID, "start-button")
        story.send_keys("A fox runs home. Then the knight beheads the 血腥 king.")
        result = browser.find_element(By.ID, "screen-result")
        # The first screen loads the lists (seconds); then each pause in typing screens again.
        _wait(browser, lambda d: result.get_attribute("data-action") == "block", 60, "the story was not screened")
        assert not start.is_enabled()
        marks = browser.find_elements(By.CSS_SELECTOR, "#marked mark.block")
        assert [m.text for m in marks] == ["beheads", "血腥"]
        assert "已拦截" in result.text
        # Clean text again: Start comes back once the screen says so.
        story.clear()
        story.send_keys("A fox runs home under the moon.")
        _wait(browser, lambda d: result.get_attribute("data-action") == "allow" and start.is_enabled(), 30,
              "a clean story did not enable Start")
        assert browser.find_elements(By.CSS_SELECTOR, "#marked mark") == []
    finally:
        page.stop()
