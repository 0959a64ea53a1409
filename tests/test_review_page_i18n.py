"""The review page in English and Chinese, and its keyboard shortcuts, over a fake desk.

Every visible word of the templates and of review.js comes from editorial.i18n's two
tables; the language follows ?lang= (remembered in a cookie) or Accept-Language, and only
the known codes are ever used or echoed. Content is never translated.
"""

from __future__ import annotations

import json
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from editorial import i18n
from editorial.manifest import Status
from reelgate.records import Action
from tests import test_review_page
from tests.test_review_page import SCRIPT, Elements

page = test_review_page.page  # the fake desk's fixture, shared

EDITORIAL = Path(i18n.__file__).resolve().parent
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']""")
SCRIPT_KEY = re.compile(r"""\btr\(\s*["']([^"']+)["']""")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_tables_have_the_same_keys_and_placeholders_and_no_empty_text():
    assert set(i18n.EN) == set(i18n.ZH)
    for key in i18n.EN:
        assert i18n.EN[key].strip() and i18n.ZH[key].strip(), key
        assert _placeholders(i18n.EN[key]) == _placeholders(i18n.ZH[key]), key


def test_templates_and_the_script_use_only_keys_both_tables_have():
    used = set()
    for template in (EDITORIAL / "templates").glob("*.html"):
        used |= set(TEMPLATE_KEY.findall(template.read_text(encoding="utf-8")))
    for script in (EDITORIAL / "static").glob("*.js"):
        used |= set(SCRIPT_KEY.findall(script.read_text(encoding="utf-8")))
    # Keys the templates and the script build from a known list: each such prefix is listed here.
    prefixes = {k for k in used if k.endswith(".")}
    assert prefixes == {"lang.", "new.language.", "js.confirm.", "js.screen.", "var.mark.", "js.var.state."}
    used -= prefixes
    used |= {f"lang.{code}" for code in i18n.LANGUAGES} | {f"new.language.{c}" for c in ("auto", "zh", "en")}
    used |= {f"js.confirm.{d}" for d in ("approve", "reject", "regenerate")}
    used |= {f"js.screen.{v}" for v in ("allow", "review", "block")}
    used |= {f"{prefix}{state}" for prefix in ("var.mark.", "js.var.state.") for state in ("rejected", "maybe", "selected")}
    assert len(used) > 100
    for table in (i18n.EN, i18n.ZH):
        assert used - set(table) == set()
    assert {k for k in used if k.startswith("js.")} <= set(i18n.script_strings("zh"))


class _Text(HTMLParser):
    """The visible text of a page (script and style left out)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _chinese(client, path: str) -> str:
    return client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text


@pytest.mark.parametrize("path", ["/", "/episodes/ep1", "/episodes/decided", "/new"])
def test_in_chinese_no_interface_word_is_left_in_english(page, path):
    client, _ = page
    html = _chinese(client, path)
    assert '<html lang="zh-CN">' in html
    content_words = {a.value for a in Action} | {s.value for s in Status}  # verdicts and statuses are content
    english = {v for v in i18n.EN.values()
               if v not in i18n.ZH.values() and v not in content_words and len(v) > 3 and "{" not in v}
    shown = " ".join(_Text(html).parts)
    assert [e for e in english if e in shown] == []
    assert "待审核" in shown or "新建剧集" in shown or "决定" in shown


def test_the_language_follows_accept_language_then_a_remembered_choice(page):
    client, _ = page
    assert '<html lang="en">' in client.get("/").text  # no preference: English
    assert "待审核" in _chinese(client, "/")
    assert "3 分钟" in _chinese(client, "/") and "5 小时 0 分钟" in _chinese(client, "/")  # the queue's ages too
    preferred = client.get("/", headers={"Accept-Language": "en;q=0.4, zh-TW;q=0.8, fr"}).text
    assert '<html lang="zh-CN">' in preferred
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "fr, de;q=0.9"}).text
    # The switch: ?lang= sets a cookie, which then wins over the browser's preference.
    switched = client.get("/episodes/ep1?lang=zh", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in switched.text and "通过" in switched.text
    assert f"{i18n.COOKIE}=zh" in switched.headers["set-cookie"]
    assert "httponly" in switched.headers["set-cookie"].lower()
    later = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in later.text and "set-cookie" not in later.headers
    back = client.get("/?lang=en")
    assert '<html lang="en">' in back.text and f"{i18n.COOKIE}=en" in back.headers["set-cookie"]


@pytest.mark.parametrize("asked", [
    '"><script>alert(1)</script>', "zh\r\nSet-Cookie: evil=1", "zh%0d%0aSet-Cookie:%20evil=1", "ZH", "zh-CN", "",
])
def test_only_en_and_zh_are_accepted_from_lang(page, asked):
    client, _ = page
    response = client.get("/", params={"lang": asked}, headers={"Accept-Language": "en"})
    assert response.status_code == 200 and '<html lang="en">' in response.text
    assert "set-cookie" not in response.headers and "evil" not in response.headers.get("set-cookie", "")
    assert "<script>alert(1)" not in response.text
    forged = type(client)(client.app, base_url=str(client.base_url), cookies={i18n.COOKIE: '"><script>x'})
    forged.headers["X-Review-Token"] = client.headers["X-Review-Token"]
    assert '<html lang="en">' in forged.get("/").text


def test_the_script_s_strings_travel_as_escaped_data_and_cannot_break_out(page, monkeypatch):
    client, _ = page
    evil = '</script><script>alert(1)</script>" onload="alert(2)\' &amp;'
    monkeypatch.setitem(i18n.ZH, "js.done", evil)
    html = _chinese(client, "/episodes/ep1")
    assert "<script>alert(1)" not in html and 'onload="alert' not in html
    (body,) = Elements(html).find("body")
    strings = json.loads(body["data-strings"])
    assert strings["js.done"] == evil and strings["js.confirm.approve"] == i18n.ZH["js.confirm.approve"]
    assert Elements(html).find("script") == [{"src": "/static/common.js"}, {"src": "/static/review.js"}]  # data, never inline


def test_content_is_never_translated(page):
    client, _ = page
    html = _chinese(client, "/episodes/ep1")
    assert "The fox sings &lt;script&gt;alert(1)&lt;/script&gt; at night." in html
    assert "Fox &lt;b&gt;ep1&lt;/b&gt;" in html and "Shot on 35 mm film" in html
    assert "镜头 2 · safety · concept: violence 0.31" in html  # the finding's own words stay as found
    assert SCRIPT not in html


def test_every_page_shows_the_shortcut_legend_and_the_help_panel(page):
    client, _ = page
    for path, keys in (("/", ["n", "p", "Enter", "?"]),
                       ("/episodes/ep1", ["n", "p", "Space", ",", ".", "f", "a", "r", "g", "Enter", "Esc", "?"])):
        html = client.get(path).text
        doc = Elements(html)
        (panel,) = doc.find("aside", id="help")
        assert doc.find("p", id="keys") and "hidden" in panel
        assert [row["data-key"] for row in doc.find("tr") if "data-key" in row] == keys
        assert "all shortcuts" in html and "Shortcuts do nothing while you type" in html
    assert "全部快捷键" in _chinese(client, "/episodes/ep1")


def test_shortcuts_stay_out_of_text_boxes_and_modified_keys_and_decide_through_the_same_post():
    js = (EDITORIAL / "static" / "review.js").read_text(encoding="utf-8")
    guard = js[js.index('document.addEventListener("keydown"'):]
    guard = guard[:guard.index("});")]
    for check in ("event.ctrlKey", "event.altKey", "event.metaKey", "event.isComposing", "typing(event.target)"):
        assert check in guard
    typing = js[js.index("function typing"):js.index('document.addEventListener("keydown"')]
    for kind in ('"INPUT"', '"TEXTAREA"', '"SELECT"', "isContentEditable", "[contenteditable]", "NOT_TEXT"):
        assert kind in typing
    # A key only chooses; Enter sends through send(), the function the buttons use.
    assert 'shortcuts.a = () => choose("approve")' in js and "send(decision)" in js
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js


def test_next_and_previous_follow_the_queue_order(page):
    client, _ = page
    first = Elements(client.get("/episodes/ep1").text)  # the queue: ep1, mid, old (newest first)
    assert first.find("a", id="next-episode", href="/episodes/mid") and not first.find("a", id="prev-episode")
    assert "1 of 3 waiting" in client.get("/episodes/ep1").text
    outside = Elements(client.get("/episodes/guarded").text)  # not in the queue: next is its first
    assert outside.find("a", id="next-episode", href="/episodes/ep1") and not outside.find("a", id="prev-episode")
    video = Elements(client.get("/episodes/ep1").text).find("video", id="player")[0]
    assert video["data-fps"] == "12"  # one frame of the kept shots, for , and .


def test_the_version_reads_as_the_cli_describes_it_in_english_and_in_chinese(page):
    from editorial.manifest import load_manifest
    from editorial.review import describe_version

    client, desk = page
    version = load_manifest(desk.root / "ep1").version
    assert f'<span id="version">{describe_version(version)}</span>' in client.get("/episodes/ep1").text
    assert "r1-ep1（第 1 条，第 1 轮审核，运行 01234567" in _chinese(client, "/episodes/ep1")
    assert i18n.translator("en")("ep.no_version_yet") == describe_version(None)
