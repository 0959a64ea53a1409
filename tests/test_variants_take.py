"""A take chosen in a variants sweep becomes a shot of the episode under review.

The decision names only the take (SWEEP/tNN); the sweep record on disk must say it was
opened on this episode, this version and this shot, that the take was selected, not blocked,
and that its video is still the bytes that were checked. The fast tests try each way round
those rules; the integration test carries a take into a real run at the review gate.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from editorial.manifest import ReviewDecision, Status, load_manifest, now_utc
from editorial.variants import Sweep, SweepStatus, Take, TakeState, load_sweep, save_sweep, sweep_dir, take_for_episode
from reelgate.errors import InputError
from reelgate.files import file_sha256
from reelgate.records import Action, ShotSpec

SPEC = ShotSpec(index=1, text="The fox stops under a pine.", subject="the fox", prompt="a fox under a pine, night",
                duration_s=2.0, seed=7, camera="track", time_of_day="night")


def _sweep(data_dir: Path, content: bytes = b"video bytes", **take_fields) -> tuple[Sweep, Path]:
    folder = sweep_dir(data_dir, "sw1")
    (folder / "takes").mkdir(parents=True, exist_ok=True)
    path = folder / "takes" / "t02.mp4"
    path.write_bytes(content)
    take = Take(id="t02", knobs={"camera": "track"}, spec=SPEC, video="takes/t02.mp4",
                video_sha256=file_sha256(path), safety_action=Action.ALLOW, state=TakeState.SELECTED)
    take = take.model_copy(update=take_fields)
    sweep = Sweep(sweep_id="sw1", created_at=now_utc(), shot=2, knobs={"camera": ["push", "track"]},
                  episode_id="ep1", episode_version="v-abc", status=SweepStatus.READY,
                  takes=[Take(id="t01", knobs={"camera": "push"}, original=True, spec=SPEC), take])
    save_sweep(data_dir, sweep)
    return sweep, path


def test_a_selected_clean_take_of_this_version_and_shot_is_carried(tmp_path):
    _, path = _sweep(tmp_path)
    sweep, take, video = take_for_episode(tmp_path, "sw1/t02", "ep1", "v-abc", 2)
    assert (sweep.sweep_id, take.id, video) == ("sw1", "t02", path.resolve())


@pytest.mark.parametrize("args, fields, says", [
    (("sw1/t02", "ep2", "v-abc", 2), {}, "not opened on episode ep2"),
    (("sw1/t02", "ep1", "v-new", 2), {}, "opened on version v-abc"),
    (("sw1/t02", "ep1", "v-abc", 3), {}, "varies shot 2, not shot 3"),
    (("sw1/t09", "ep1", "v-abc", 2), {}, "has no take 't09'"),
    (("sw1/t02", "ep1", "v-abc", 2), {"state": TakeState.MAYBE}, "maybe, not selected"),
    (("sw1/t02", "ep1", "v-abc", 2), {"safety_action": Action.BLOCK, "safety_reasons": ["nudity 0.91"]},
     "nudity 0.91"),
    (("sw1/t02", "ep1", "v-abc", 2), {"safety_action": None}, "never checked"),
    (("sw1/t02", "ep1", "v-abc", 2), {"error": "generation failed"}, "generation failed"),
    (("sw1/t02", "ep1", "v-abc", 2), {"video": "../../../etc/passwd"}, "missing"),
    (("sw1/t02", "ep1", "v-abc", 2), {"video_sha256": "0" * 64}, "changed on disk"),
    (("../sw1/t02", "ep1", "v-abc", 2), {}, "not a take"),
    (("sw1/../t02", "ep1", "v-abc", 2), {}, "not a take"),
])
def test_a_take_that_breaks_a_rule_is_refused_with_the_reason(tmp_path, args, fields, says):
    _sweep(tmp_path, **fields)
    with pytest.raises(InputError, match=says):
        take_for_episode(tmp_path, *args)


def test_bytes_changed_after_the_check_are_refused(tmp_path):
    _, path = _sweep(tmp_path)
    path.write_bytes(b"other bytes")
    with pytest.raises(InputError, match="changed on disk"):
        take_for_episode(tmp_path, "sw1/t02", "ep1", "v-abc", 2)


@pytest.mark.parametrize("form, says", [
    ({"decision": "approve", "take": "sw1/t02"}, "replaces one shot"),
    ({"decision": "regenerate", "notes": "x", "shots": [1, 2], "take": "sw1/t02"}, "replaces one shot"),
    ({"decision": "regenerate", "notes": "x", "shots": [2], "take": "../x/t02"}, "pattern"),
])
def test_a_take_goes_with_a_regenerate_of_exactly_one_shot(form, says):
    with pytest.raises(ValidationError, match=says):
        ReviewDecision(**form)


def test_the_prefect_form_refuses_a_take_on_anything_but_one_regenerated_shot():
    """Prefect's UI can resume a run with any input: the server's schema must refuse it first."""
    from prefect.input.run_input import create_v2_schema, run_input_subclass_from_type
    from prefect.utilities.schema_tools import validate
    from prefect.utilities.schema_tools.validation import ValidationError as SchemaError

    cls = run_input_subclass_from_type(ReviewDecision)
    schema = create_v2_schema(cls.__name__, model_base=cls)
    for bad in ({"decision": "approve", "take": "sw1/t02"},
                {"decision": "regenerate", "notes": "x", "shots": [1, 2], "take": "sw1/t02"},
                {"decision": "regenerate", "notes": "x", "shots": [2], "take": "sw1/../../t02"}):
        with pytest.raises(SchemaError):
            validate(bad, schema, raise_on_error=True)
    validate({"decision": "regenerate", "notes": "x", "shots": [2], "take": "sw1/t02"}, schema, raise_on_error=True)


# ---- the real flow -----------------------------------------------------------------------

STORY = ("At dusk a fox runs across the snowy hills. The fox stops under a tall pine. "
         "Then the moon rises slowly over the quiet valley.")


@pytest.mark.integration
def test_a_chosen_take_becomes_the_shot_in_the_next_round_and_a_stale_one_is_refused(prefect_server, capsys):
    from cli import main

    settings = prefect_server
    assert main(["episode", STORY, "--id", "take-ep", "--title", "Fox"]) == 0, capsys.readouterr().out
    episode = settings.episodes_dir / "take-ep"
    first = load_manifest(episode)
    assert first.status == Status.AWAITING_REVIEW
    # A take for shot 2 made elsewhere: here shot 3's picture, so the episode's change is plain to see.
    shot3 = first.shots[2].attempts[first.shots[2].kept_attempt].shot.path
    folder = sweep_dir(settings.data_dir, "take-ep-s2")
    (folder / "takes").mkdir(parents=True)
    shutil.copyfile(shot3, folder / "takes" / "t03.mp4")
    spec = first.plan.shots[1].model_copy(update={"camera": "push", "seed": 4242})
    take = Take(id="t03", knobs={"camera": "push", "seed": "4242"}, spec=spec, video="takes/t03.mp4",
                video_sha256=file_sha256(folder / "takes" / "t03.mp4"), safety_action=Action.ALLOW,
                state=TakeState.SELECTED)
    save_sweep(settings.data_dir, Sweep(
        sweep_id="take-ep-s2", created_at=now_utc(), shot=2, knobs={"camera": ["track", "push"]},
        episode_id="take-ep", episode_version=first.version.id, status=SweepStatus.READY, takes=[take],
    ))

    # Naming the wrong shot is refused at the gate: nothing is made, the episode waits again.
    code = main(["review", "regenerate", "take-ep", "--version", first.version.id, "--shots", "3",
                 "--take", "take-ep-s2/t03", "--notes", "use the push-in take"])
    out = capsys.readouterr().out
    assert code == 1 and "varies shot 2, not shot 3" in out, out
    refused = load_manifest(episode)
    assert refused.status == Status.AWAITING_REVIEW and refused.review_round == 2
    assert [len(s.attempts) for s in refused.shots] == [1, 1, 1]

    # The sweep was opened on round 1's version; the gate now holds round 2's: refused too.
    code = main(["review", "regenerate", "take-ep", "--version", refused.version.id, "--shots", "2",
                 "--take", "take-ep-s2/t03", "--notes", "use the push-in take"])
    out = capsys.readouterr().out
    assert code == 1 and "opened on version" in out, out

    # Reopened on the version at the gate, the take is carried in: copied, checked again, kept.
    now = load_manifest(episode)
    sweep = load_sweep(settings.data_dir, "take-ep-s2")
    save_sweep(settings.data_dir, sweep.model_copy(update={"episode_version": now.version.id}))
    assert main(["review", "regenerate", "take-ep", "--version", now.version.id, "--shots", "2",
                 "--take", "take-ep-s2/t03", "--notes", "use the push-in take"]) == 0, capsys.readouterr().out
    manifest = load_manifest(episode)
    assert manifest.status == Status.AWAITING_REVIEW and manifest.review_round == 4
    shot = manifest.shots[1]
    kept = shot.attempts[shot.kept_attempt]
    # Checked again here, on the same frames: the same verdict as when they were shot 3.
    assert kept.take == "take-ep-s2/t03" and kept.review_round == 4
    assert kept.safety_action == first.shots[2].attempts[first.shots[2].kept_attempt].safety_action
    assert kept.shot.seed == 4242 and kept.shot.path.parent == episode
    assert file_sha256(kept.shot.path) == take.video_sha256
    assert [len(s.attempts) for s in manifest.shots] == [1, 2, 1]  # nothing else was made
    assert manifest.review.take == "take-ep-s2/t03" and manifest.review.authenticated
    assert manifest.outputs["video"] == "round4/episode.mp4"
    chosen = load_sweep(settings.data_dir, "take-ep-s2")
    assert (chosen.status, chosen.chosen) == (SweepStatus.CHOSEN, "t03")

    # Approving replays every gate (the run starts again from the top): the take's check and
    # bytes are the gate's, even after someone un-selects the take in the sweep.
    sweep = load_sweep(settings.data_dir, "take-ep-s2")
    save_sweep(settings.data_dir, sweep.model_copy(update={"takes": [
        t.model_copy(update={"state": TakeState.REJECTED}) for t in sweep.takes]}))
    assert main(["review", "approve", "take-ep", "--version", manifest.version.id]) == 0, capsys.readouterr().out
    final = load_manifest(episode)
    assert final.status == Status.PUBLISHED
    assert (settings.publish_dir / "take-ep" / "episode.mp4").read_bytes() == \
        (episode / manifest.outputs["video"]).read_bytes()
