"""`reelgate screen`, `moderate`, `qc`, `likeness`, `gallery` and `enhance`: checks and the enhancement chain on any
text or video, outside a run."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from cli.common import EXIT_OK, EXIT_REFUSED, UsageError, load_settings
from reelgate.errors import InputError
from reelgate.records import Action
from reelgate.settings import Settings


def _screen_settings(args: argparse.Namespace, settings: Settings):
    updates = {"extra_lists": [Path(p) for p in args.blocklist]}
    if args.no_defaults:
        if not args.blocklist:
            raise UsageError("--no-defaults needs at least one --blocklist FILE to screen against")
        updates["use_default_lists"] = False
    for layer in ("pinyin", "initials", "homophones", "semantic"):
        if getattr(args, layer) is not None:
            updates[layer] = getattr(args, layer)
    return settings.screening.model_copy(update=updates)


def _no_surrogates(text: str) -> str:
    """Lone surrogates (undecodable input) shown as U+FFFD: same length, so spans still fit."""
    return re.sub(r"[\ud800-\udfff]", "\ufffd", text)


def _marked(text: str, matches) -> str:
    """The text with each match bracketed: 'a [血 腥] scene'."""
    out, last = [], 0
    for m in sorted(matches, key=lambda m: m.start):
        if m.start < last:
            continue
        out += [text[last : m.start], "[", text[m.start : m.end], "]"]
        last = m.end
    return _no_surrogates("".join(out) + text[last:])


def cmd_screen(args: argparse.Namespace) -> int:
    from prompts.screen import Screener

    texts = list(args.texts)
    if any(not t.strip() for t in texts):
        raise UsageError("an empty text was given; pass the texts to screen, or none to read them from stdin")
    if not texts:
        raw = sys.stdin.buffer.read().decode("utf-8", errors="replace")  # bad bytes become U+FFFD
        texts = [line.rstrip("\r") for line in raw.split("\n") if line.strip()]
        if not texts:
            raise UsageError("nothing to screen: give texts as arguments or one per line on stdin")
    settings = load_settings(args)
    screener = Screener.from_settings(_screen_settings(args, settings), settings.data_dir / "cache")
    worst = Action.ALLOW
    for text in texts:
        result = screener.screen(text)
        worst = Action.strictest([worst, result.action])
        action = "pass" if result.action is Action.ALLOW else result.action.value
        if args.json:
            matches = [m.model_dump(mode="json", exclude_none=True) for m in result.matches]
            for m in matches:
                m["text"] = _no_surrogates(m["text"])
            print(json.dumps({"text": _no_surrogates(text), "action": action, "matches": matches}, ensure_ascii=False))
            continue
        print(f"{action.upper():6s} {_marked(text, result.matches)}")
        for m in result.matches:
            score = f", score {m.score:.2f}" if m.score is not None else ""
            print(f"       {m.action.value:6s} {m.category}: '{m.term}' ({m.layer}{score}) at {m.start}-{m.end} "
                  f"\"{_no_surrogates(m.text)}\"" + (f"  [{m.source}]" if m.source else ""))
    return EXIT_REFUSED if worst.rank >= Action.REVIEW.rank else EXIT_OK


def _print_safety(report, as_json: bool) -> int:
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        for f in report.findings:
            against = f" (threshold {f.threshold:.2f})" if f.threshold is not None else ""
            print(f"{f.time_s:7.2f} s  {f.action.value.upper():6s} {f.check}: {f.label} {f.score:.2f}{against}")
        for line in report.unavailable:
            print(f"unavailable: {line}")
        for line in report.notes:
            print(f"note: {line}")
        print(f"{report.action.value.upper()}: {report.frames_checked} frames checked in {report.seconds_taken:.1f} s"
              + "".join(f"\n  - {r}" for r in report.reasons))
        if report.findings_sheet:
            print(f"findings sheet: {report.findings_sheet}")
    return EXIT_OK if report.action in (Action.ALLOW, Action.WARN) else EXIT_REFUSED


def cmd_moderate(args: argparse.Namespace) -> int:
    from safety.check import check_video

    settings = load_settings(args)
    video = Path(args.video)
    sheet = Path(args.sheet) if args.sheet else None
    report = check_video(video, settings.safety, contact_sheet=sheet, checks=("nudity", "concepts", "faces"))
    return _print_safety(report, args.json)


def cmd_qc(args: argparse.Namespace) -> int:
    from quality.plots import format_flags, metric_table, plot_scores, quality_contact_sheet
    from quality.score import score_video

    from quality.request import FLASHES, TEXTURES, ShotRequest

    settings = load_settings(args)
    video = Path(args.video)
    asks = [a.strip() for a in (args.asks or "").split(",") if a.strip()]
    unknown = [a for a in asks if a not in (*TEXTURES, *FLASHES)]
    if unknown:
        raise UsageError(f"--asks {unknown[0]!r}: not a texture; use any of {', '.join((*TEXTURES, *FLASHES))}")
    request = ShotRequest(asks={a: "--asks" for a in asks}) if asks else None
    report = score_video(video, settings.quality, wants_motion=not args.no_motion, request=request)
    written = []
    if args.plot:
        written.append(("plot", plot_scores(report, Path(args.plot), title=f"{video.name}: quality per frame")))
    if args.sheet:
        written.append(("contact sheet", quality_contact_sheet(video, report, Path(args.sheet))))
    if args.json:
        bulky = set() if args.series else {"series", "curves"}
        print(report.model_dump_json(indent=2, exclude=bulky))
        for what, path in written:
            print(f"{what}: {path}", file=sys.stderr)
    else:
        verdict = "PASS" if report.passed else "FAIL"
        print(f"{video}: {verdict} (score {report.score:.2f}, scored in {report.seconds_taken:.1f} s)")
        for row in metric_table(report, settings.quality):
            print(f"  {row['metric']:22s} {row['value']:>10s}  {row['threshold']:22s} {row['result']}".rstrip())
        if report.failing:
            print(f"failing: {', '.join(report.failing)}")
        for reason in report.reasons:
            print(f"  - {reason}")
        for relaxed in report.relaxed:
            print(f"  relaxed: {relaxed}")
        if report.flagged_times:
            print("flagged frames:")
            for line in format_flags(report):
                print(f"  {line}")
        for what, path in written:
            print(f"{what}: {path}")
    return EXIT_OK if report.passed else EXIT_REFUSED


def enhance_settings(args: argparse.Namespace, settings: Settings):
    """settings.enhance with this command's flags on top (--look, --lut, --size, --fps, --aspect, --no-STEP)."""
    from cli.common import parse_size
    from postprocess.enhance.chain import STEPS

    e = settings.enhance.model_copy(deep=True)
    if args.look and args.lut:
        raise UsageError("--look and --lut both name the grade; give one")
    if args.look:
        e.grade.look, e.grade.lut = args.look, None
    if args.lut:
        e.grade.lut = Path(args.lut)
    if args.intensity is not None:
        e.grade.intensity = args.intensity
    if args.enhance_size:
        width, height = parse_size(args.enhance_size)
        e.upscale.size = f"{width}x{height}"
    if args.enhance_fps is not None:
        e.interpolate.fps = args.enhance_fps
    if args.aspect:
        e.aspect.aspect = args.aspect
    if args.fit:
        e.aspect.fit = args.fit
    for step in STEPS:
        if getattr(args, f"no_{step}"):
            part = getattr(e, step)
            if step == "aspect":
                part.aspect = "source"
            else:
                part.enabled = False
    return type(e).model_validate(e.model_dump())  # the flags are checked like the settings are


def cmd_enhance(args: argparse.Namespace) -> int:
    import tempfile

    from postprocess.enhance.base import StepContext
    from postprocess.enhance.chain import enhance_video
    from reelgate.console import StepBar

    settings = load_settings(args)
    src, dst = Path(args.video), Path(args.out)
    if src.resolve() == dst.resolve():
        raise UsageError("--out must be another file than the input; the input is never overwritten")
    if not src.is_file():
        raise UsageError(f"{src}: no such video")
    reference = Path(args.reference) if args.reference else None
    if reference is not None and not reference.is_file():
        raise UsageError(f"--reference {reference}: no such video")
    chosen = enhance_settings(args, settings)
    bar = StepBar(f"enhance {src.name}", unit="frame")
    with tempfile.TemporaryDirectory(prefix="reelgate-enhance-") as work:
        try:
            result = enhance_video(src, dst, chosen, StepContext(work_dir=Path(work), reference=reference), progress=bar,
                                   preset=settings.planning.preset)
        finally:
            bar.close()
    record = result.record()
    if args.json:
        print(json.dumps({"video": str(dst), **record}, indent=2, ensure_ascii=False))
    else:
        print(f"{dst}: {record['size_in']} -> {record['size_out']} in {record['seconds']} s ({record['passes']} pass"
              f"{'es' if record['passes'] != 1 else ''})")
        for step in record["steps"]:  # type: ignore[union-attr]
            details = ", ".join(f"{k} {v}" for k, v in step.items() if k != "step")
            print(f"  {step['step']:12s} {details}")
        if not record["steps"]:
            print("  nothing to do: every step is off or the video already is what they ask for (copied as is)")
    return EXIT_OK


def _gallery_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.gallery) if args.gallery else settings.safety.gallery_dir


def cmd_likeness(args: argparse.Namespace) -> int:
    from safety.check import check_video
    from safety.gallery import Gallery

    settings = load_settings(args)
    folder = _gallery_dir(args, settings)
    if not Gallery(folder).list():  # also refuses a folder that does not exist
        raise InputError(f"the gallery {folder} is empty; enrol people first: reelgate gallery add NAME IMAGE...")
    safety = settings.safety.model_copy(update={"gallery_dir": folder, "likeness": True})
    sheet = Path(args.sheet) if args.sheet else None
    report = check_video(Path(args.video), safety, contact_sheet=sheet, checks=("likeness",))
    return _print_safety(report, args.json)


def cmd_gallery(args: argparse.Namespace) -> int:
    from safety.faces import FaceDetector
    from safety.gallery import Gallery
    from safety.likeness import make_embedder

    settings = load_settings(args)
    gallery = Gallery(_gallery_dir(args, settings), max_image_pixels=settings.safety.max_image_pixels)
    if args.action == "add":
        detector = FaceDetector(min_face_size=settings.safety.face_min_size)
        person = gallery.add(args.name, [Path(p) for p in args.images], detector, make_embedder(settings.safety))
        print(f"enrolled {person.name}: {len(person.embeddings)} photo(s) in {gallery.folder}")
    elif args.action == "remove":
        gallery.remove(args.name)
        print(f"removed {args.name} from {gallery.folder}")
    else:
        people = gallery.list()
        for person in people:
            print(f"{person.name:24s} {len(person.embeddings)} photo(s), {person.embedder}")
        print(f"{len(people)} protected {'person' if len(people) == 1 else 'people'} in {gallery.folder}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `screen`, `moderate`, `qc`, `likeness` and `gallery` to the main parser's subcommands."""
    sc = sub.add_parser(
        "screen",
        help="screen texts against the blocklists; exit 0 if all pass (or only warn), 1 if any is blocked or needs review",
    )
    sc.add_argument("texts", nargs="*", help="texts to screen; none: read one per line from stdin")
    sc.add_argument("--blocklist", action="append", default=[], metavar="FILE",
                    help="a list file or folder, added to the defaults (repeatable)")
    sc.add_argument("--no-defaults", action="store_true", help="screen only against the --blocklist files")
    sc.add_argument("--json", action="store_true", help="one JSON object per line: text, action, matches")
    for layer, what in (("pinyin", "pinyin spellings"), ("initials", "pinyin initials"),
                        ("homophones", "sound-alike characters"), ("semantic", "English paraphrases (loads a model)")):
        sc.add_argument(f"--{layer}", dest=layer, action=argparse.BooleanOptionalAction, default=None,
                        help=f"the {what} layer (default: from settings)")
    sc.set_defaults(func=cmd_screen)

    mo = sub.add_parser("moderate", help="check a video's frames for nudity and harmful concepts; exit 1 if blocked or needs review")
    mo.add_argument("video")
    mo.add_argument("--json", action="store_true", help="print the whole report as JSON")
    mo.add_argument("--sheet", help="write a contact sheet PNG here (finding thumbnails go beside it)")
    mo.set_defaults(func=cmd_moderate)

    qc = sub.add_parser("qc", help="score a video's quality (jumps, flicker, frozen motion); exit 1 if it fails")
    qc.add_argument("video")
    qc.add_argument("--json", action="store_true", help="print the report as JSON (per-frame series only with --series)")
    qc.add_argument("--series", action="store_true", help="with --json: include the per-frame series and curves")
    qc.add_argument("--no-motion", action="store_true", help="the shot may be still: do not fail it as frozen")
    qc.add_argument(
        "--asks", metavar="LIST",
        help="texture the shot asked for, judged as wanted (comma list: rain,snow,fire,surf,smoke,crowd,stars,lightning)",
    )
    qc.add_argument("--plot", metavar="PNG", help="write a plot of the per-frame scores with threshold lines here")
    qc.add_argument("--sheet", metavar="PNG", help="write a contact sheet with the flagged frames marked here")
    qc.set_defaults(func=cmd_qc)

    en = sub.add_parser(
        "enhance", help="grade, match, clean, upscale, interpolate and reframe any video, as an episode's shots are",
        description="Runs the enhancement chain of the settings (REELGATE_ENHANCE__*) on one video, outside Prefect. "
        "Exit 0 when written, 2 on bad input (an unreadable video, a malformed LUT, a size or rate it cannot make).",
    )
    en.add_argument("video")
    en.add_argument("--out", required=True, help="the enhanced MP4 to write (never the input)")
    en.add_argument("--look", help="a shipped look by name")
    en.add_argument("--lut", help="your own .cube file")
    en.add_argument("--intensity", type=float, help="how much of the look, 0..1")
    # Own dests: --size and --fps of a run choose the generator's size (cli.common.run_options).
    en.add_argument("--size", dest="enhance_size", help="upscale to WxH, e.g. 1280x720")
    en.add_argument("--fps", dest="enhance_fps", type=float, help="interpolate to this frame rate, e.g. 24")
    en.add_argument("--aspect", choices=["source", "16:9", "9:16", "1:1"], help="delivery aspect")
    en.add_argument("--fit", choices=["crop", "pad"], help="reach the aspect by cropping or by padding")
    en.add_argument("--reference", help="a video whose colour the input is matched to")
    for step in ("clean", "match", "grade", "interpolate", "upscale", "aspect"):
        en.add_argument(f"--no-{step}", action="store_true", help=f"skip the {step} step")
    en.add_argument("--json", action="store_true", help="print what was done as JSON")
    en.set_defaults(func=cmd_enhance)

    li = sub.add_parser("likeness", help="look for protected people's faces in a video; exit 1 if one is found")
    li.add_argument("video")
    li.add_argument("--gallery", help="gallery folder (default: <data dir>/gallery)")
    li.add_argument("--json", action="store_true", help="print the whole report as JSON")
    li.add_argument("--sheet", help="write a contact sheet PNG here")
    li.set_defaults(func=cmd_likeness)

    ga = sub.add_parser("gallery", help="the protected-people gallery: add, list, remove")
    gsub = ga.add_subparsers(dest="action", required=True)
    add = gsub.add_parser("add", help="enrol a person from photos with exactly one face each")
    add.add_argument("name")
    add.add_argument("images", nargs="+")
    gsub.add_parser("list", help="the people enrolled")
    rm = gsub.add_parser("remove", help="remove a person")
    rm.add_argument("name")
    for p in gsub.choices.values():
        p.add_argument("--gallery", help="gallery folder (default: <data dir>/gallery)")
    ga.set_defaults(func=cmd_gallery)
