"""Variants, fast tier: knobs and their validation, the order of takes, the limit, weights (plan file
round trip, the animatic's weight 1 = the same pixels), marks and the write-back into the plan file,
and the comparison grid and side-by-side video."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from editorial.variants import (
    Sweep, SweepStatus, Take, TakeState, check_take_limit, choose_take, load_sweep, mark_take, parse_sweeps,
    plan_takes, save_sweep, take_count,
)
from generation.animatic.scene import Scene
from postprocess.compare import (
    LABEL_HEIGHT, PAD, TITLE_HEIGHT, Cell, cell_origin, contact_sheet, side_by_side, video_size, write_thumbnail,
)
from prompts.plan import plan_shots
from prompts.plan_file import dump_plan, load_plan
from reelgate.errors import InputError, NotAllowed
from reelgate.media import VideoWriter, video_info
from reelgate.records import Action, ShotSpec
from reelgate.settings import PlanLimits, PlanningSettings

STORY = "A fisherman walks along the shore. A storm rises over the dark sea. The boat returns at dawn."


@pytest.fixture(scope="module")
def plan():
    return plan_shots(STORY, "var-test", PlanningSettings())


@pytest.fixture()
def plan_file(tmp_path, plan) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(dump_plan(plan), encoding="utf-8")
    return path


# ------------------------------------------------------------------ knobs


def test_knobs_parse_in_order_and_numbers_are_written_one_way():
    knobs = parse_sweeps(["camera=push,track", "strength:Storm=0.50,1,1.5", "duration_s=3,4.0"])
    assert knobs == {"camera": ["push", "track"], "strength:storm": ["0.5", "1", "1.5"], "duration_s": ["3", "4"]}


@pytest.mark.parametrize("arg, says", [
    (["camera=fly"], "not one of static, push"),
    (["time_of_day=noon"], "dawn, day, dusk, night"),
    (["strength:storm=4"], "between 0 and 3"),
    (["strength:storm=-1"], "between 0 and 3"),
    (["strength:storm=lots"], "a number from 0 to 3"),
    (["strength:two words=1"], "not a single word"),
    (["seed=1,2"], "--seeds N"),
    (["colour=red"], "not a knob; sweep one of camera"),
    (["camera"], "KNOB=VALUE"),
    (["camera=push,push"], "given twice"),
    (["camera=push", "camera=track"], "given twice"),
    (["duration_s=0"], "above 0"),
    (["mood="], "one or more values"),
])
def test_a_bad_knob_is_refused_saying_what_it_may_be(arg, says):
    with pytest.raises(InputError, match=says.replace("(", r"\(")):
        parse_sweeps(arg)


# ------------------------------------------------------------------ takes


def test_the_original_is_t01_then_one_knob_changed_then_two(plan):
    spec = plan.shots[1]
    assert spec.camera != "push" and spec.time_of_day == "day"
    takes = plan_takes(plan, 2, parse_sweeps(["camera=push,track", "time_of_day=day,night"]), 2, 24)
    assert takes[0].original and takes[0].spec == spec and takes[0].id == "t01"
    changes = [sum(t.knobs[k] != takes[0].knobs[k] for k in t.knobs) for t in takes]
    assert changes == sorted(changes) and changes[0] == 0
    # One knob changed: camera (day kept, plan seed) in the order given; then camera + seed...
    assert [t.knobs["camera"] for t in takes[1:3]] == ["push", "track"]
    assert all(t.knobs["time_of_day"] == "day" and t.knobs["seed"] == str(spec.seed) for t in takes[1:3])
    assert len(takes) == 1 + 2 * 2 * 2
    assert [t.id for t in takes] == [f"t{k:02d}" for k in range(1, 10)]


def test_a_take_prompt_is_rebuilt_from_its_fields_as_load_plan_does(plan, plan_file):
    takes = plan_takes(plan, 2, parse_sweeps(["camera=push", "time_of_day=night"]), 1, 24)
    take = takes[1].spec
    edited = load_plan(_edit(plan_file, 2, camera="push", time_of_day="night"))
    assert take.prompt == edited.shots[1].prompt and take.expansions == edited.shots[1].expansions
    assert "slow push-in" in take.prompt and "night" in take.prompt


def _edit(plan_file: Path, shot: int, **fields) -> str:
    """The plan file's text with shot `shot`'s fields edited by hand (its prompt left `auto`)."""
    data = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    data["shots"][shot - 1].update(fields)
    assert data["shots"][shot - 1]["prompt"] == "auto"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_seeds_are_the_plans_then_derived_ones(plan):
    takes = plan_takes(plan, 1, {}, 3, 24)
    seeds = [t.spec.seed for t in takes]
    assert seeds[0] == plan.shots[0].seed and len(set(seeds)) == 3
    assert plan_takes(plan, 1, {}, 3, 24)[2].spec.seed == seeds[2]  # the same in every process


def test_a_sweep_over_the_limit_is_refused_with_the_count_and_how_to_narrow_it(plan):
    knobs = parse_sweeps(["camera=push,track,orbit,pan_left", "mood=calm,sad,epic"])
    assert take_count(plan.shots[1], knobs, 3) == 37
    with pytest.raises(InputError, match=r"37 takes .*limit is 24 \(variants.max_takes.*fewer values or seeds"):
        plan_takes(plan, 2, knobs, 3, 24)
    assert check_take_limit(plan.shots[1], knobs, 2, 25) == 25


def test_plan_limits_apply_to_every_take(plan):
    with pytest.raises(InputError, match="take t0.*max_shot_s"):
        plan_takes(plan, 1, parse_sweeps(["duration_s=3,60"]), 1, 24, limits=PlanLimits(max_shot_s=20))


def test_nothing_to_sweep_and_a_shot_out_of_range_are_refused(plan):
    with pytest.raises(InputError, match="nothing to sweep"):
        plan_takes(plan, 1, {}, 1, 24)
    with pytest.raises(InputError, match="--shot 9: the plan has 3"):
        plan_takes(plan, 9, parse_sweeps(["camera=push"]), 1, 24)


# ------------------------------------------------------------------ weights


def test_weights_round_trip_through_the_plan_file(plan):
    weighted = plan.model_copy(update={"shots": [plan.shots[0], plan.shots[1].model_copy(
        update={"weights": {"storm": 1.5, "speed": 0.5}}), plan.shots[2]]})
    text = dump_plan(weighted)
    assert text.count("\n  weights:") == 1  # only the shot that has them
    again = load_plan(text)
    assert again.shots[1].weights == {"storm": 1.5, "speed": 0.5}
    assert again.shots[1].prompt == plan.shots[1].prompt  # still `auto`: the weight is not prompt text
    assert "\n  weights:" not in dump_plan(plan)  # a plan without weights is written as before


def test_prompt_syntax_and_field_mean_the_same_and_the_field_wins():
    base = dict(index=0, text="x", duration_s=3, seed=1)
    written = ShotSpec(prompt="a sea, (storm:1.5), a boat", **base)
    field = ShotSpec(prompt="a sea, storm, a boat", weights={"storm": 1.5}, **base)
    assert written.effective_weights() == field.effective_weights() == {"storm": 1.5}
    assert written.model_prompt() == field.model_prompt() == "a sea, storm, a boat, strong storm"
    both = ShotSpec(prompt="(storm:2.5)", weights={"storm": 0.5}, **base)
    assert both.weight("storm") == 0.5
    assert ShotSpec(prompt="plain", **base).model_prompt() == "plain"


@pytest.mark.parametrize("weights, says", [
    ("{storm: 4}", "between 0 and 3"), ("{storm: lots}", "a number from 0 to 3"), ("[storm]", "word: weight"),
])
def test_a_bad_weight_in_a_plan_file_is_refused_naming_the_shot(plan, weights, says):
    text = dump_plan(plan).replace("  seed:", f"  weights: {weights}\n  seed:", 1)
    with pytest.raises(InputError, match=f"shot 1, field 'weights'.*{says}"):
        load_plan(text)


def test_a_bad_weight_in_a_written_prompt_is_refused(plan):
    text = dump_plan(plan).replace("prompt: auto", "prompt: a boat in a (storm:9)", 1)
    with pytest.raises(InputError, match="shot 1, field 'prompt'.*between 0 and 3"):
        load_plan(text)


def _storm(**fields) -> ShotSpec:
    base = dict(index=0, text="A fisherman walks along the shore in a storm.", subject="a fisherman",
                action="walks along the shore", environment="the shore", weather="storm", camera="track",
                prompt="p", duration_s=1.5, seed=7)
    return ShotSpec(**{**base, **fields})


def _frames(spec: ShotSpec, skip: frozenset[str] = frozenset()) -> np.ndarray:
    scene = Scene(spec, 7, 160, 96, 8)
    return np.stack([scene.render(i, skip) for i in range(scene.frames)])


@pytest.mark.parametrize("weather", ["storm", "rain", "snow", "fog", "wind"])
def test_the_animatic_draws_the_same_pixels_at_weight_1_and_a_weight_changes_only_the_weather(weather):
    plain = _frames(_storm(weather=weather))
    assert np.array_equal(plain, _frames(_storm(weather=weather, weights={weather: 1.0, "speed": 1.0})))
    stronger = _frames(_storm(weather=weather, weights={weather: 2.0}))
    assert np.abs(plain.astype(int) - stronger).mean() > 0.3
    # Without the weather's own layers the frames are identical: the hills, the sea and the figure stay.
    skip = frozenset({"weather"})
    assert np.array_equal(_frames(_storm(weather=weather), skip),
                          _frames(_storm(weather=weather, weights={weather: 2.0}), skip))


def test_a_storm_weight_in_the_prompt_draws_as_the_field_does():
    assert np.array_equal(_frames(_storm(weights={"storm": 2.5})), _frames(_storm(prompt="a (storm:2.5) shore")))


def test_a_weight_of_0_leaves_the_rain_out_and_speed_moves_subject_and_camera():
    no_rain = _frames(_storm(weather="rain", weights={"rain": 0.0}))
    dry = _frames(_storm(weather="rain"), frozenset({"weather"}))
    assert np.array_equal(no_rain, dry)
    slow, fast = Scene(_storm(), 7, 160, 96, 8), Scene(_storm(weights={"speed": 2.0}), 7, 160, 96, 8)
    assert abs(fast.subject_speed) == pytest.approx(2 * abs(slow.subject_speed))
    span = lambda scene: scene.camera.at(scene.duration)[0] - scene.camera.at(0.0)[0]  # noqa: E731
    assert abs(span(fast)) == pytest.approx(2 * abs(span(slow)))


# ------------------------------------------------------------------ marks and the write-back


def _sweep(tmp_path, plan, plan_file: Path | None, blocked: tuple[str, ...] = ("t03",)) -> Sweep:
    takes = plan_takes(plan, 2, parse_sweeps(["camera=push,track", "strength:storm=0.5,1.5"]), 1, 24)
    for take in takes:
        take.safety_action = Action.BLOCK if take.id in blocked else Action.ALLOW
        take.safety_reasons = ["nudity 0.91"] if take.id in blocked else []
    sweep = Sweep(sweep_id="s1", created_at=datetime.now(timezone.utc), shot=2,
                  knobs={"camera": ["push", "track"], "strength:storm": ["0.5", "1.5"]},
                  plan_file=str(plan_file) if plan_file else None, status=SweepStatus.READY, takes=takes)
    save_sweep(tmp_path / "data", sweep)
    return sweep


def test_a_blocked_or_unchecked_take_cannot_be_selected(tmp_path, plan):
    sweep = _sweep(tmp_path, plan, None)
    with pytest.raises(NotAllowed, match="t03 is blocked \\(nudity 0.91\\)"):
        mark_take(sweep, "t03", "selected")
    sweep.takes[1].safety_action = None
    with pytest.raises(NotAllowed, match="never checked"):
        mark_take(sweep, "t02", "selected")
    assert mark_take(sweep, "t03", "rejected").state == TakeState.REJECTED


def test_selecting_one_take_unselects_the_other(tmp_path, plan):
    sweep = _sweep(tmp_path, plan, None)
    mark_take(sweep, "t02", "selected")
    mark_take(sweep, "t04", "selected", who="ana")
    states = {t.id: t.state for t in sweep.takes}
    assert states["t04"] == TakeState.SELECTED and states["t02"] == TakeState.MAYBE
    assert sum(s == TakeState.SELECTED for s in states.values()) == 1


def test_selecting_a_take_writes_it_into_the_plan_file_and_keeps_the_rest(tmp_path, plan, plan_file):
    _sweep(tmp_path, plan, plan_file)
    before = load_plan(plan_file)
    header = plan_file.read_text(encoding="utf-8").split("\nepisode_id")[0]
    sweep = choose_take(tmp_path / "data", "s1", "t05", "selected")
    take = sweep.take("t05")
    assert (sweep.chosen, sweep.status) == ("t05", SweepStatus.CHOSEN)
    after = load_plan(plan_file)
    assert after.shots[1].camera == take.knobs["camera"] and after.shots[1].weights == take.spec.weights
    assert after.shots[1].seed == take.spec.seed and after.shots[1].prompt == take.spec.prompt
    assert after.shots[0] == before.shots[0] and after.shots[2] == before.shots[2]
    assert (after.style, after.seed, after.directions) == (before.style, before.seed, before.directions)
    assert plan_file.read_text(encoding="utf-8").startswith(header)
    assert "prompt: auto" in plan_file.read_text(encoding="utf-8").split("- index: 2")[1].split("- index: 3")[0]
    assert load_sweep(tmp_path / "data", "s1").chosen == "t05"


def test_a_refused_mark_writes_nothing(tmp_path, plan, plan_file):
    _sweep(tmp_path, plan, plan_file)
    text, record = plan_file.read_bytes(), (tmp_path / "data/variants/s1/sweep.json").read_bytes()
    for take, state in (("t03", "selected"), ("t99", "selected"), ("t02", "loved")):
        with pytest.raises(InputError):
            choose_take(tmp_path / "data", "s1", take, state)
    assert plan_file.read_bytes() == text and (tmp_path / "data/variants/s1/sweep.json").read_bytes() == record


def test_an_episode_sweep_records_the_choice_only(tmp_path, plan):
    sweep = _sweep(tmp_path, plan, None)
    sweep.episode_id, sweep.episode_version = "ep1", "v1"
    save_sweep(tmp_path / "data", sweep)
    chosen = choose_take(tmp_path / "data", "s1", "t02", "selected")
    assert (chosen.chosen, chosen.status) == ("t02", SweepStatus.CHOSEN)
    unchosen = choose_take(tmp_path / "data", "s1", "t02", "maybe")
    assert (unchosen.chosen, unchosen.status) == (None, SweepStatus.READY)


# ------------------------------------------------------------------ the comparison


def _clip(path: Path, colour: tuple[int, int, int], seconds: float, size=(160, 96), fps=8) -> Path:
    with VideoWriter(path, size[0], size[1], fps) as writer:
        for i in range(round(seconds * fps)):
            frame = np.zeros((size[1], size[0], 3), np.uint8)
            frame[...] = colour
            frame[:, (i * 4) % size[0]] = 255  # a moving line: something changes
            writer.write(frame)
    return path


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    colours = [(200, 40, 40), (40, 200, 40), (20, 20, 20), (40, 40, 200), (200, 200, 40)]  # t03 blocked: dark, a white line
    made = []
    for k, colour in enumerate(colours):
        video = _clip(folder / f"t{k + 1}.mp4", colour, 1.0 + 0.5 * k)
        blocked = k == 2
        thumb = write_thumbnail(video, folder / f"t{k + 1}.jpg", blocked=blocked)
        made.append(Cell(f"t0{k + 1}", "push · 风暴 ×1.5", "q 0.80 pass · allow", blocked, video, thumb))
    return made


def test_a_thumbnail_of_a_blocked_take_is_blurred(tmp_path):
    video = _clip(tmp_path / "v.mp4", (20, 20, 20), 1.0)
    sharp = np.asarray(Image.open(write_thumbnail(video, tmp_path / "a.jpg", False)))
    soft = np.asarray(Image.open(write_thumbnail(video, tmp_path / "b.jpg", True)))
    assert sharp.max() > 200 and soft.max() < 120  # the white line is smeared away


def test_the_grid_lays_out_the_takes_and_blurs_and_labels_the_blocked_one(tmp_path, cells):
    out = contact_sheet(cells, tmp_path / "grid.png", columns=3, cell_width=160, title="sweep s1")
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    w, h = 160, 96
    assert sheet.shape[1] == PAD + 3 * (w + PAD)
    assert sheet.shape[0] == TITLE_HEIGHT + PAD + 2 * (h + LABEL_HEIGHT + PAD)
    for i, cell in enumerate(cells):
        x, y = cell_origin(i, 3, (w, h), TITLE_HEIGHT)
        inner = sheet[y + 10:y + h - 10, x + 10:x + w - 10]
        if cell.blocked:
            # Blurred: no trace of the sharp white line; mostly dark red "blocked" text and grey blobs.
            assert (inner.min(axis=2) > 240).sum() < 0.01 * inner[..., 0].size
            assert (sheet[y + h // 2 - 6:y + h // 2 + 6, x + 20:x + w - 20, 0] > 180).any()  # the red word
        else:
            expected = np.array(((200, 40, 40), (40, 200, 40), None, (40, 40, 200), (200, 200, 40))[i])
            assert np.abs(np.median(inner.reshape(-1, 3), axis=0) - expected).max() < 30
    assert (sheet[-PAD - LABEL_HEIGHT + 2:-PAD, 2 * (w + PAD):] == sheet[-1, -1]).all()  # the empty sixth cell


@pytest.mark.integration  # real ffmpeg encodes and mixes whole clips: 0.5-1.5 s
def test_the_side_by_side_video_has_the_grid_size_and_the_longest_takes_length(tmp_path, cells):
    out = side_by_side(cells, tmp_path / "grid.mp4", columns=3, cell_width=160)
    width, height, fps, duration = video_info(out)
    assert (width, height) == video_size(len(cells), 3, (160, 96))
    assert duration == pytest.approx(3.0, abs=0.2)  # the longest take is 1 + 0.5 * 4 s
    from reelgate.media import read_frames

    frame = next(iter(read_frames(out)))
    x, y = PAD + 2 * (160 + PAD), PAD  # the third cell of the first row
    blank = frame[y + 5:y + 20, x + 5:x + 40].astype(int)
    assert blank.std() < 6 and 35 < blank.mean() < 65  # the blocked take is a blank card, not its white frame


def test_a_single_take_still_makes_a_video(tmp_path, cells):
    out = side_by_side(cells[:1], tmp_path / "one.mp4", columns=4, cell_width=160)
    assert video_info(out)[:2] == video_size(1, 4, (160, 96))


def test_take_ids_past_99_take_three_digits(plan):
    takes = plan_takes(plan, 1, parse_sweeps(["camera=" + ",".join(["push", "pull", "track", "orbit", "static",
                                                                     "handheld", "pan_left", "pan_right", "tilt_up",
                                                                     "tilt_down"])]), 11, 200)
    assert takes[-1].id == f"t{len(takes):03d}" and Take.model_fields["id"]


def test_progress_saved_by_the_flow_keeps_marks_made_meanwhile(tmp_path, plan):
    from editorial.variants import chosen_take, save_progress

    flow_copy = _sweep(tmp_path, plan, None)  # what the flow holds in memory
    choose_take(tmp_path / "data", "s1", "t04", "rejected", who="ana")
    flow_copy.takes[1].quality_score = 0.9
    saved = save_progress(tmp_path / "data", flow_copy)
    on_disk = load_sweep(tmp_path / "data", "s1")
    assert on_disk.take("t04").state == TakeState.REJECTED and on_disk.take("t04").marked_by == "ana"
    assert on_disk.take("t02").quality_score == 0.9 and saved.take("t04").state == TakeState.REJECTED
    choose_take(tmp_path / "data", "s1", "t02", "selected")
    assert save_progress(tmp_path / "data", flow_copy).status == SweepStatus.CHOSEN
    assert chosen_take(load_sweep(tmp_path / "data", "s1")).id == "t02"


def test_the_sweep_flow_refuses_settings_as_a_run_parameter(plan):
    from flows.variants import sweep_shot

    with pytest.raises(InputError, match="data_dir \\(set REELGATE_DATA_DIR on the worker\\)"):
        sweep_shot.fn(plan, 1, {"camera": ["push"]}, settings={"data_dir": "/elsewhere"})


@pytest.mark.parametrize("count, columns, shape", [(1, 4, (1, 1)), (4, 4, (4, 1)), (5, 4, (3, 2)), (8, 4, (4, 2)),
                                                    (9, 4, (3, 3)), (24, 4, (4, 6)), (3, 2, (2, 2))])
def test_the_grid_keeps_its_rows_about_full(count, columns, shape):
    from postprocess.compare import grid_shape

    assert grid_shape(count, columns) == shape


def test_the_cli_refuses_a_sweep_over_the_limit_before_making_anything(tmp_path, plan_file, capsys, monkeypatch):
    from cli import main

    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "data"))  # restored after the test
    before = plan_file.read_bytes()
    code = main(["variants", str(plan_file), "--shot", "2", "--sweep", "camera=push,track,orbit,pan_left",
                 "--sweep", "mood=calm,sad,epic", "--seeds", "3"])
    assert code == 2 and "37 takes" in capsys.readouterr().err
    assert not (tmp_path / "data").exists() and plan_file.read_bytes() == before
    assert main(["variants", str(plan_file), "--shot", "2", "--sweep", "camera=fly"]) == 2
    assert "not one of static" in capsys.readouterr().err
    assert main(["variants", str(plan_file), "--sweep", "camera=push"]) == 2
    assert "--shot N" in capsys.readouterr().err


def test_the_cli_lists_shows_and_marks(tmp_path, plan, plan_file, capsys, monkeypatch):
    from cli import main

    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "data"))
    _sweep(tmp_path, plan, plan_file)
    assert main(["variants", "list"]) == 0 and "s1" in capsys.readouterr().out
    assert main(["variants", "show", "s1"]) == 0
    shown = capsys.readouterr().out
    assert "t01" in shown and "original" in shown and "blocked: nudity 0.91" in shown
    assert main(["variants", "mark", "s1", "t03", "selected"]) == 2
    assert "blocked" in capsys.readouterr().err
    assert main(["variants", "mark", "s1", "t02", "selected"]) == 0
    assert "written into shot 2" in capsys.readouterr().out
    assert load_plan(plan_file).shots[1].camera == "push"
    assert main(["variants", "show"]) == 2


def test_only_deployments_imports_the_sweep_flow_and_only_flows_and_tasks_import_prefect():
    import ast

    root = Path(__file__).resolve().parent.parent
    importers = {p.name for p in (root / "flows").glob("*.py")
                 for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ImportFrom) and node.module == "flows.variants"}
    assert importers <= {"deployments.py"}, importers
    for plain in ("editorial/variants.py", "postprocess/compare.py", "cli/variants.py"):
        tree = ast.parse((root / plain).read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(name.split(".")[0] == "prefect" for name in names), plain


def test_a_written_out_prompt_stays_as_written_and_the_weight_still_weighs(plan):
    written = plan.model_copy(update={"shots": [plan.shots[0], plan.shots[1].model_copy(
        update={"prompt": "a lone boat in a (storm:1.5) at sea"}), plan.shots[2]]})
    takes = plan_takes(written, 2, parse_sweeps(["strength:storm=0.5,2"]), 1, 24)
    assert takes[0].knobs["strength:storm"] == "1.5" and takes[0].original
    assert all(t.spec.prompt == "a lone boat in a (storm:1.5) at sea" for t in takes)
    assert [t.spec.weight("storm") for t in takes] == [1.5, 0.5, 2.0]


def test_dashscope_receives_a_weight_as_plain_words_and_a_plain_prompt_as_written():
    from generation.dashscope import DashScopeGenerator
    from reelgate.settings import CloudSettings, GenerationSettings

    generator = DashScopeGenerator(GenerationSettings(backend="dashscope", cloud=CloudSettings(api_key="k" * 32)))
    base = dict(index=0, text="A boat.", duration_s=3.5, seed=7)
    weighted = ShotSpec(prompt="a boat in a (storm:2.5)", weights={"speed": 0.5}, **base)
    assert generator.request_body(weighted, 7)["input"]["prompt"] == (
        "a boat in a storm, overwhelming storm, intense storm, slow motion")
    assert generator.request_body(ShotSpec(prompt="a boat", **base), 7)["input"]["prompt"] == "a boat"


def test_a_sweep_run_cannot_name_the_plan_file_a_selection_rewrites():
    """The sweep flow takes no plan file: a run created through the Prefect API with one fails its
    parameter check, and the file a selected take is written into comes from the sweep's record."""
    import inspect

    from flows.variants import sweep_shot

    assert "plan_file" not in inspect.signature(sweep_shot.fn).parameters
