"""The README and docs/: what a newcomer follows must lead somewhere.

Every relative link in README.md, SECURITY.md and docs/*.md points at a file of the
repository (and an anchor, where one is given, at a heading of that file); no tracked file
names a path outside the repository as something it needs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at a space (a title) or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# Paths that only exist on the machines this was written on: the notes beside the repository,
# a workplace folder, a scratch clone.
OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w.])shared/(?:FINDINGS|ARCHITECTURE|STYLE|ANCHORS)\.md|/work/|/tmp/fresh")


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return LINK.findall(text)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of `page`: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_the_pages_exist_and_the_readme_links_every_docs_page():
    readme = ROOT / "README.md"
    linked = {(readme.parent / target.split("#")[0]).resolve() for target in links(readme)}
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert page.resolve() in linked, f"README.md does not link {page.relative_to(ROOT)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_of_the_repository(page):
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.is_relative_to(ROOT):
            problems.append(f"{target}: outside the repository")
        elif not where.exists():
            problems.append(f"{target}: no such file")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            problems.append(f"{target}: no heading #{anchor} in {where.relative_to(ROOT)}")
    assert not problems, f"{page.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_readme_shows_the_screenshots_the_browser_test_makes():
    images = [t for t in links(ROOT / "README.md") if t.endswith(".png")]
    assert {"docs/img/review-page.png", "docs/img/prefect-run.png"} <= set(images)
    browser_test = (ROOT / "tests" / "test_review_browser.py").read_text(encoding="utf-8")
    for image in images:
        assert Path(image).name in browser_test, f"{image} is not made by tests/test_review_browser.py"
        assert (ROOT / image).stat().st_size < 300_000, f"{image} is over 300 KB"


def test_no_tracked_file_needs_a_path_outside_the_repository():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in files.decode().split("\0"):
        path = ROOT / name
        if not name or name == "tests/test_docs.py" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: media, fonts
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) and " not in " not in line:  # a check that such a path is absent
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "paths outside the repository:\n" + "\n".join(found)
