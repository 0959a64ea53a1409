"""The publish folder's feeds: `feed.json` (JSON Feed 1.1) and `feed.xml` (RSS 2.0).

Both are rebuilt whole from the published episodes' public manifests (`<publish_dir>/<id>/manifest.json`,
an `editorial.publish.PublicManifest`) and each is replaced atomically, so a reader or a crash
never sees half a feed, and a feed can always be rebuilt from the folder alone. Every entry
carries the sha256 of the approved video, so a reader can check the file it downloads.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from editorial.audit import locked
from editorial.manifest import MANIFEST_NAME
from editorial.publish import VIDEO_NAME, PublicManifest
from reelgate.files import write_text

FEED_JSON, FEED_XML = "feed.json", "feed.xml"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
REELGATE_NS = "https://github.com/reelgate/reelgate/ns/feed/1"  # names our RSS extension elements
SUMMARY_CHARS = 280
FEED_TITLE = "reelgate"


def published_manifests(publish_dir: Path) -> list[PublicManifest]:
    """The published episodes in the folder, newest first.

    Only folders `publish_episode` made are listed, whatever else lies in the folder: a valid
    public manifest in a folder named after its episode, beside a video of the recorded size.
    A folder copied in by hand, a private manifest, a half-written staging folder are skipped.
    """
    found = []
    for path in sorted(Path(publish_dir).glob(f"*/{MANIFEST_NAME}")):
        folder = path.parent
        if folder.name.startswith("."):  # staging folders of a publish under way
            continue
        try:
            manifest = PublicManifest.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, OSError, UnicodeDecodeError):
            continue
        video, recorded = folder / VIDEO_NAME, manifest.files.get(VIDEO_NAME)
        if manifest.episode_id != folder.name or recorded is None or recorded.sha256 != manifest.version.video_sha256:
            continue
        if not video.is_file() or video.stat().st_size != recorded.bytes:
            continue
        found.append(manifest)
    return sorted(found, key=lambda m: m.published_at, reverse=True)


def rebuild_feeds(publish_dir: Path, base_url: str | None = None, title: str = FEED_TITLE) -> tuple[Path, Path]:
    """Write feed.json and feed.xml for every published episode; return their paths.

    base_url: where the publish folder is served (https://example.org/videos/); without it
    the items link to the files by file:// URL, which local players open.
    """
    publish_dir = Path(publish_dir)
    with locked(publish_dir / ".feed.lock"):  # two publishers at once: the later one sees both
        items = [_item(m, publish_dir, base_url) for m in published_manifests(publish_dir)]
        home = _url(publish_dir, "", base_url)
        json_path = write_text(publish_dir / FEED_JSON, json_feed(items, title, home, _url(publish_dir, FEED_JSON, base_url)))
        xml_path = write_text(publish_dir / FEED_XML, rss_feed(items, title, home))
    return json_path, xml_path


def _url(publish_dir: Path, relative: str, base_url: str | None) -> str:
    if base_url:
        return base_url.rstrip("/") + "/" + relative
    return publish_dir.resolve().as_uri() + "/" + relative


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"


def _item(manifest: PublicManifest, publish_dir: Path, base_url: str | None) -> dict[str, Any]:
    """One feed entry, shared by both formats."""
    path = f"{manifest.episode_id}/{VIDEO_NAME}"
    return {
        "id": manifest.episode_id,
        "title": manifest.title,
        "series": manifest.series or "",
        "language": manifest.language,
        "path": path,
        "url": _url(publish_dir, path, base_url),
        "size": manifest.files[VIDEO_NAME].bytes,
        "date": manifest.published_at,
        "summary": _summary(manifest.description),
        "ai_label": manifest.ai_label,
        "sha256": manifest.version.video_sha256,
        "version": manifest.version.id,
        "duration_s": manifest.duration_s,
    }


def _aigc_line(label: dict[str, Any]) -> str:
    """The explicit AI-content notice readers see, from the implicit label in the file."""
    details = ", ".join(f"{k}={v}" for k, v in label.items())
    return "AI-generated content (AIGC)" + (f": {details}" if details else "")


def json_feed(items: list[dict[str, Any]], title: str, home_url: str, feed_url: str) -> str:
    """A JSON Feed 1.1 document; reelgate's own fields sit under `_reelgate`, as the spec asks."""
    feed = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": home_url,
        "feed_url": feed_url,
        "items": [
            {
                "id": item["id"],
                "url": item["url"],
                "title": item["title"],
                "summary": item["summary"],
                "content_text": f"{item['summary']}\n\n{_aigc_line(item['ai_label'])}",
                "date_published": item["date"].isoformat(),
                "language": item["language"],
                **({"tags": [item["series"]]} if item["series"] else {}),
                "attachments": [{"url": item["url"], "mime_type": "video/mp4", "size_in_bytes": item["size"]}],
                "_reelgate": {
                    "series": item["series"], "path": item["path"], "ai_generated": True, "ai_label": item["ai_label"],
                    "sha256": item["sha256"], "version": item["version"], "duration_s": item["duration_s"],
                },
            }
            for item in items
        ],
    }
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def rss_feed(items: list[dict[str, Any]], title: str, home_url: str) -> str:
    """An RSS 2.0 document with one <enclosure> per episode (what podcast apps and players read)."""
    ET.register_namespace("reelgate", REELGATE_NS)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    _text(channel, "title", title)
    _text(channel, "link", home_url)
    _text(channel, "description", "Episodes approved by a human reviewer. All videos are AI-generated.")
    if items:
        _text(channel, "lastBuildDate", format_datetime(max(i["date"] for i in items)))
    for item in items:
        node = ET.SubElement(channel, "item")
        _text(node, "title", item["title"])  # ElementTree escapes &, < and > in text and attributes
        _text(node, "link", item["url"])
        ET.SubElement(node, "guid", {"isPermaLink": "false"}).text = item["id"]
        _text(node, "pubDate", format_datetime(item["date"]))
        _text(node, "description", f"{item['summary']}\n\n{_aigc_line(item['ai_label'])}")
        if item["series"]:
            _text(node, "category", item["series"])
        ET.SubElement(node, "enclosure", {"url": item["url"], "length": str(item["size"]), "type": "video/mp4"})
        label = {k: str(v) for k, v in item["ai_label"].items() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", k)}
        ET.SubElement(node, f"{{{REELGATE_NS}}}aigc", label)
        _text(node, f"{{{REELGATE_NS}}}language", item["language"])
        _text(node, f"{{{REELGATE_NS}}}sha256", item["sha256"])  # of the enclosure: the approved video
        _text(node, f"{{{REELGATE_NS}}}version", item["version"])
    ET.indent(rss)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(rss, encoding="unicode") + "\n"


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    node = ET.SubElement(parent, tag)
    node.text = _NOT_XML.sub("", text)  # control characters are not allowed in XML at all
    return node
