"""`reelgate enhance IN --out OUT`: the chain on any video, outside Prefect; exit 0 written, 2 bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli import main
from reelgate.media import VideoWriter, read_frames, video_info


@pytest.fixture()
def wan_like(tmp_path: Path) -> Path:
    """A small 16 fps clip with a moving bar, standing in for a Wan shot."""
    path = tmp_path / "in.mp4"
    with VideoWriter(path, 160, 96, 16) as writer:
        for i in range(16):
            frame = np.zeros((96, 160, 3), np.uint8)
            frame[:, :] = (60, 90, 160)
            frame[30:60, (6 * i) % 140 : (6 * i) % 140 + 20] = (230, 200, 120)
            writer.write(frame)
    return path


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_a_look_a_size_and_a_rate_are_made_and_reported(wan_like, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code = main(["enhance", str(wan_like), "--out", str(out), "--look", "night-blue", "--size", "320x192",
                 "--fps", "24", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["step"] for s in report["steps"]] == ["clean", "grade", "interpolate", "upscale"]
    assert report["size_in"] == "160x96@16" and report["size_out"] == "320x192@24"
    width, height, fps, duration = video_info(out)
    assert (width, height, fps) == (320, 192, 24) and abs(duration - 1.0) < 0.1
    before, after = next(read_frames(wan_like)).astype(float), next(read_frames(out)).astype(float)
    assert after.mean() < before.mean()  # night blue darkens


def test_bad_input_exits_2_with_what_to_change(wan_like, tmp_path, capsys):
    lut = tmp_path / "bad.cube"
    lut.write_text("LUT_3D_SIZE 2\n0 0 0\nsecret-token-abc 1 1\n")
    assert main(["enhance", str(wan_like), "--out", str(tmp_path / "o.mp4"), "--lut", str(lut)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "secret-token-abc" not in err and not (tmp_path / "o.mp4").exists()

    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    assert main(["enhance", str(not_video), "--out", str(tmp_path / "o.mp4")]) == 2
    assert main(["enhance", str(wan_like), "--out", str(tmp_path / "o.mp4"), "--size", "321x190"]) == 2
    assert "REELGATE_ENHANCE__UPSCALE__SIZE" in capsys.readouterr().err
    assert main(["enhance", str(wan_like), "--out", str(wan_like)]) == 2  # never overwrites its input
    assert main(["enhance", str(wan_like), "--out", str(tmp_path / "o.mp4"), "--look", "no-such-look"]) == 2
    assert "night-blue" in capsys.readouterr().err  # the shipped looks are listed


def test_every_step_off_copies_the_video(wan_like, tmp_path, capsys):
    out = tmp_path / "same.mp4"
    args = ["enhance", str(wan_like), "--out", str(out)] + [f"--no-{s}" for s in
                                                             ("clean", "match", "grade", "interpolate", "upscale", "aspect")]
    assert main(args) == 0 and out.read_bytes() == wan_like.read_bytes()
    assert "nothing to do" in capsys.readouterr().out
