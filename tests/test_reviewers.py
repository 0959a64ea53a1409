"""Named reviewers (editorial.reviewers) and `reelgate reviewers`: personal tokens, kept hashed and private."""

from __future__ import annotations

import json
import stat

import pytest

from editorial.reviewers import (
    OWNER, add_reviewer, authenticate, list_reviewers, remove_reviewer, reviewers_file,
)
from cli import build_parser
from reelgate.errors import InputError

OWNER_TOKEN = "owner-token-0123456789-abcdef"


def test_added_reviewers_sign_in_with_their_own_token_until_removed(tmp_path):
    ana, bob = add_reviewer(tmp_path, "ana"), add_reviewer(tmp_path, "bob.k")
    assert ana != bob and len(ana) >= 40
    assert [r.name for r in list_reviewers(tmp_path)] == ["ana", "bob.k"]
    assert authenticate(tmp_path, ana, OWNER_TOKEN) == "ana"
    assert authenticate(tmp_path, bob, OWNER_TOKEN) == "bob.k"
    assert authenticate(tmp_path, OWNER_TOKEN, OWNER_TOKEN) == OWNER
    assert authenticate(tmp_path, ana + "x", OWNER_TOKEN) is None
    assert remove_reviewer(tmp_path, "ana") is True and remove_reviewer(tmp_path, "ana") is False
    assert authenticate(tmp_path, ana, OWNER_TOKEN) is None and authenticate(tmp_path, bob, None) == "bob.k"
    assert [r.name for r in list_reviewers(tmp_path)] == ["bob.k"]


def test_short_tokens_never_sign_in(tmp_path):
    short = "s" * 23
    assert authenticate(tmp_path, short, short) is None  # even when it is the owner's
    assert authenticate(tmp_path, "", None) is None


def test_the_file_is_private_and_holds_hashes_only(tmp_path):
    token = add_reviewer(tmp_path, "ana")
    path = reviewers_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert token not in text
    (entry,) = json.loads(text)["reviewers"]
    assert entry["name"] == "ana" and len(entry["token_sha256"]) == 64 and entry["added_at"]
    add_reviewer(tmp_path, "bob")  # rewritten: still private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["owner", "Owner", "system", "prefect-ui", "", "a b", "ana/..", "x" * 65, "é"])
def test_reserved_and_malformed_names_are_refused(tmp_path, name):
    with pytest.raises(InputError):
        add_reviewer(tmp_path, name)
    assert list_reviewers(tmp_path) == []


def test_an_existing_name_is_refused_and_keeps_its_token(tmp_path):
    token = add_reviewer(tmp_path, "ana")
    with pytest.raises(InputError, match="exists already"):
        add_reviewer(tmp_path, "ana")
    assert authenticate(tmp_path, token, None) == "ana"


def _run(tmp_path, *argv: str) -> int:
    """`reelgate reviewers ...` on tmp_path, calling the command itself so that its errors are raised."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REELGATE_DATA_DIR", str(tmp_path))
        args = build_parser().parse_args(["reviewers", *argv])
        return args.func(args)


def test_cli_prints_the_token_once_and_lists_and_removes(tmp_path, capsys):
    assert _run(tmp_path, "add", "ana") == 0
    printed = capsys.readouterr().out
    token = next(line.strip() for line in printed.splitlines() if len(line.strip()) >= 40 and " " not in line.strip())
    assert authenticate(tmp_path, token, None) == "ana"
    assert "shown only once" in printed and "?token=" in printed and "REELGATE_REVIEWER_TOKEN" in printed
    assert _run(tmp_path, "list") == 0
    listed = capsys.readouterr().out
    assert "ana" in listed and token not in listed
    assert _run(tmp_path, "remove", "ana") == 0
    with pytest.raises(InputError, match="no reviewer named ana"):  # cli.main: exit 2 with the message
        _run(tmp_path, "remove", "ana")
