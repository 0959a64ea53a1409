"""The episode flow: one prompt in, one moderated video waiting for a human decision out.

Read it top to bottom; it is the pipeline. Every stage is a cached, persisted task, so a
run that crashes or is suspended for review and started again redoes only unfinished work.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context

from editorial.manifest import (
    FINAL_STATUSES, AttemptRecord, Decision, Manifest, NarrationRecord, ReviewDecision, ShotRecord, SoundtrackRecord,
    Status, load_manifest, manifest_path, now_utc, save_manifest,
)
from editorial.report import episode_flags, summary_markdown
from editorial.review import check_same_request, make_version, regenerate_problem, review_link, superseded_lines
from editorial.variants import mark_carried
from editorial.notify import findings_headline, notify_episode
from flows.review import run_link, wait_for_decision
from generation.base import check_backend, release_generators, uses_gpu
from postprocess.enhance.chain import check_for_generation, for_backend
from postprocess.timeline import build_timeline
from prompts.limits import check_plan_limits
from prompts.screen import lists_fingerprint
from quality.score import QualityReport, pick_best
from reelgate.records import Action, EpisodeRequest, GeneratedShot, Refusal, ShotPlan, ShotSpec, Verdict
from reelgate.errors import InputError, ReelgateError
from reelgate.files import copy_if_changed, file_sha256
from reelgate.media import video_info
from reelgate.seeds import derive_seed
from reelgate.settings import RunOptions, Settings, refuse_run_settings
from safety.gallery import check_gallery
from safety.report import SafetyReport
from quality.request import shot_request
from tasks.checks import check_shot_safety, publish_attempts, score_shot_quality
from tasks.artifacts import artifact_key
from tasks.common import fresh
from tasks.editorial import check_chosen_take, make_episode_contact_sheet, publish, record_decision, record_refusal
from tasks.enhance import enhance_shot
from tasks.generation import ensure_gpu_limit, generate_shot
from tasks.post import mix_soundtrack, mux_episode, narrate_shot, write_subtitles
from tasks.results import RESULTS, SERIALIZER
from tasks.screening import plan_episode, screen_prompt
from tasks.storage import pull_folder, pull_published, push_folder, push_published

def _tell_failed(flow, flow_run, state) -> None:
    """Prefect hook on a failed or crashed run: send a 'failed' event (never raises; says no more than the error's type)."""
    try:
        params = flow_run.parameters
        request = params["request"]
        request = request if isinstance(request, dict) else request.model_dump()
        options = params.get("options") or {}
        settings = RunOptions.model_validate(options if isinstance(options, dict) else options.model_dump()).settings()
        message = state.message or ""
        error = message.split(":")[1].strip() if message.count(":") >= 2 else ""
        headline = f"{state.name.lower()}" + (f": {error}" if error.isidentifier() else "")
        notify_episode("failed", settings.episodes_dir / request["episode_id"], settings, headline,
                       key=str(flow_run.id), run_url=run_link(flow_run.id), title=request.get("title", ""))
    except Exception:  # a hook's error would only be logged by Prefect; say it plainly instead
        logging.getLogger("reelgate.notify").warning("could not send the 'failed' notification", exc_info=True)


@flow(name="produce-episode", persist_result=True, result_storage=RESULTS, result_serializer=SERIALIZER,
      on_failure=[_tell_failed], on_crashed=[_tell_failed])
def produce_episode(
    request: EpisodeRequest, options: RunOptions | None = None, settings: dict | None = None
) -> dict:
    """Produce one episode, wait at the review gate, and publish it if a human approves.

    A regenerate decision makes the chosen shots again and brings the episode back to the
    gate, at most settings.max_review_rounds gates in all.

    Args:
        request: what the episode is asked to be.
        options: what this run may choose (backend name, size, preset...); everything else
            comes from the worker's own environment or settings file.
        settings: refused: configuration never travels as a run parameter (a command, a URL
            or a key variable named here would run or leak on the worker).
    """
    if settings is not None:
        raise InputError(refuse_run_settings(settings))
    settings = (options or RunOptions()).settings()
    log = get_run_logger()
    flow_run_id = str(get_run_context().flow_run.id)
    episode_dir = settings.episodes_dir / request.episode_id
    episode_dir.mkdir(parents=True, exist_ok=True)
    _pull(settings, episode_dir)  # a run resumed on another worker finds what the first one finished
    previous = load_manifest(episode_dir) if manifest_path(episode_dir).is_file() else None
    if previous is not None:
        check_same_request(previous, request)  # another request under this id needs --replace
    if previous is not None and previous.status in FINAL_STATUSES:
        log.info("episode %s was already decided (%s); nothing to redo", request.episode_id, previous.status.value)
        return _outcome(previous, episode_dir)
    if previous is not None and previous.status == Status.APPROVED:
        log.info("episode %s was approved but not yet published; publishing", request.episode_id)
        return _publish(episode_dir, settings)
    manifest = Manifest(episode_id=request.episode_id, request=request, flow_run_id=flow_run_id)
    manifest.superseded = superseded_lines(episode_dir)
    manifest.line = len(manifest.superseded) + 1
    if previous is not None:
        # Rounds decided in earlier runs stay as history; this run's own are replayed below.
        manifest.created_at = previous.created_at
        manifest.reviews = [r for r in previous.reviews if r.flow_run_id != flow_run_id]
    check_backend(settings.generation)  # a missing model fails here, before any work
    check_for_generation(settings.enhance, settings.generation, settings.planning.preset)  # and a missing LUT
    check_gallery(settings.safety)  # a gallery that was asked for but cannot be read: fail closed, now
    if request.plan is not None:
        check_plan_limits(request.plan, settings.planning.limits, f"the plan of {request.episode_id}")
    if uses_gpu(settings.generation):
        ensure_gpu_limit(settings.generation.gpu_slots)

    log.info("stage 1/8 screen prompt")
    screening = screen_prompt(
        request.screening_text(), request.episode_id, settings.screening,
        lists_fingerprint(settings.screening), settings.data_dir / "cache",
    )
    manifest.screening = screening.model_dump(mode="json")
    if screening.action == Action.BLOCK:
        manifest.status, manifest.verdict = Status.BLOCKED, screening.verdict()
        save_manifest(episode_dir, manifest)
        _push(settings, episode_dir)
        log.warning("prompt blocked: %s", "; ".join(manifest.verdict.reasons))
        return _outcome(manifest, episode_dir)

    log.info("stage 2/8 structure prompt and plan shots")
    plan = plan_episode(request, settings.planning, settings.screening)
    manifest.plan, manifest.language = plan, plan.language
    manifest.backend, manifest.model = settings.generation.backend, settings.generation.model
    log.info("planned %d shots, seed %d, language %s", len(plan.shots), plan.seed, plan.language)
    findings: list[Verdict] = [screening.verdict()] if screening.action != Action.ALLOW else []
    if request.plan is None:
        # What the planner wrote reaches the model too (a preset file's style words and negative prompt).
        planned = screen_prompt(
            plan.screening_text(), f"{request.episode_id}-plan", settings.screening,
            lists_fingerprint(settings.screening), settings.data_dir / "cache",
        )
        if planned.action == Action.BLOCK:
            return _blocked(manifest, episode_dir, [*findings, planned.verdict()], "the planned prompts", settings)
        if planned.action != Action.ALLOW:
            findings.append(planned.verdict())

    log.info("stage 3-5/8 generate, check safety, score quality")
    specs = list(plan.shots)
    produced: dict[int, tuple[ShotRecord, GeneratedShot, Verdict]] = {}
    # The colour reference is made first, so every other shot can be matched to it.
    first = _reference_index(settings, len(specs))
    order = [specs[first], *(s for s in specs if s.index != first)]
    for spec in order:
        ref = _lighting_reference(spec, order)
        record, kept, verdict = _produce_shot(
            spec, settings, episode_dir, request.episode_id, reference=_reference(produced.get(ref), spec, ref)
        )
        if kept is None or verdict.action == Action.BLOCK:
            manifest.shots = [r for _, (r, _, _) in sorted(produced.items())] + [record]
            return _blocked(manifest, episode_dir, [*findings, verdict], f"shot {spec.index + 1}", settings)
        produced[spec.index] = (record, kept, verdict)
        _push(settings, episode_dir)
    manifest.shots = [produced[i][0] for i in range(len(specs))]
    kept_shots = [produced[i][1] for i in range(len(specs))]
    shot_verdicts = [produced[i][2] for i in range(len(specs))]
    manifest.verdict = Verdict.combine(findings + shot_verdicts)
    _assemble(manifest, specs, kept_shots, settings, episode_dir, review_round=1)

    audit_log = settings.data_dir / "audit.jsonl"
    for gate in range(1, settings.max_review_rounds + 1):
        log.info("stage 8/8 waiting for review (round %d)", gate)
        decision, signed = _wait_for_review(manifest, previous, episode_dir, settings, gate)
        refused, notes_verdict = None, None
        if decision.decision == Decision.REGENERATE:
            refused, notes_verdict = _regenerate_refusal(
                decision, len(specs), gate, request.episode_id, manifest.version.id, settings
            )
        record = record_decision(decision, manifest.version, signed, request.episode_id, refused, audit_log)
        manifest.review = record
        manifest.reviews.append(record)

        if decision.decision == Decision.APPROVE:
            manifest.status = Status.APPROVED
            save_manifest(episode_dir, manifest)
            _push(settings, episode_dir)
            return _publish(episode_dir, settings)
        if decision.decision == Decision.REJECT:
            manifest.status = Status.REJECTED
            save_manifest(episode_dir, manifest)
            _push(settings, episode_dir)
            return _outcome(manifest, episode_dir)
        if refused is not None:
            log.warning("regenerate refused in review round %d: %s", gate, refused)
            findings.append(Verdict(action=Action.REVIEW, reasons=[f"review round {gate}: regenerate refused: {refused}"]))
            manifest.verdict = Verdict.combine(findings + shot_verdicts)
            if gate == settings.max_review_rounds:
                manifest.status = Status.REJECTED
                save_manifest(episode_dir, manifest)
                _push(settings, episode_dir)
                return _outcome(manifest, episode_dir)
            continue  # back to the gate; nothing is made with refused notes

        production_round = gate + 1
        log.info("regenerating shots %s with the reviewer's notes (production round %d)", decision.shots, production_round)
        manifest.status = Status.REGENERATING
        save_manifest(episode_dir, manifest)
        if notes_verdict is not None and notes_verdict.action != Action.ALLOW:
            findings.append(notes_verdict)
        for number in decision.shots:
            i = number - 1
            if decision.take:
                # The director chose a take of a variants sweep: it becomes the shot, checked again here.
                specs[i], (record, kept, verdict) = _carry_take(
                    decision.take, manifest, i, settings, episode_dir, production_round, gate
                )
                if kept is None or verdict.action == Action.BLOCK:
                    return _blocked(manifest, episode_dir, [*findings, verdict],
                                    f"the chosen take for shot {number}", settings)
                kept_shots[i], shot_verdicts[i] = kept, verdict
                continue
            # Notes accumulate: a shot regenerated twice keeps the first round's notes too.
            specs[i] = specs[i].model_copy(update={"prompt": f"{specs[i].prompt.rstrip(' .')}. {decision.notes.strip()}"})
            first = _reference_index(settings, len(specs))
            ref = _lighting_reference(specs[i], [specs[first], *(s for s in specs if s.index != first)])
            record, kept, verdict = _produce_shot(
                specs[i], settings, episode_dir, request.episode_id, record=manifest.shots[i], review_round=production_round,
                reference=_reference((manifest.shots[ref], kept_shots[ref], shot_verdicts[ref]), specs[i], ref),
            )
            if kept is None or verdict.action == Action.BLOCK:
                return _blocked(manifest, episode_dir, [*findings, verdict], f"regenerated shot {number}", settings)
            kept_shots[i], shot_verdicts[i] = kept, verdict
            _push(settings, episode_dir)
        manifest.verdict = Verdict.combine(findings + shot_verdicts)
        _assemble(manifest, specs, kept_shots, settings, episode_dir, review_round=production_round)
    raise AssertionError("unreachable: the last review round always ends the episode")


def _wait_for_review(
    manifest: Manifest, previous: Manifest | None, episode_dir: Path, settings: Settings, gate: int
) -> tuple[ReviewDecision, bool]:
    """Suspend the run at review gate `gate` (no process, worker or GPU held) until a decision comes.

    The gate holds one version: this run, this round, the bytes of this round's video and
    subtitles. Only a decision on that version is taken (flows.review.wait_for_decision);
    others are refused and written to the audit log. Each gate has its own keys, so a run
    replaying after a resume meets the decisions already given, and suspends only at the
    open gate. Returns the decision and whether the page or the CLI signed it.
    """
    timeout_s = max(1, round(settings.review_timeout_hours * 3600))
    manifest.status, manifest.review_round = Status.AWAITING_REVIEW, gate
    manifest.version = make_version(
        manifest.flow_run_id, gate, episode_dir / manifest.outputs["video"],
        episode_dir / manifest.outputs["subtitles"], manifest.line,
    )
    if previous is not None and previous.flow_run_id == manifest.flow_run_id and previous.review_round == gate:
        manifest.waiting_since, manifest.review_due_at = previous.waiting_since, previous.review_due_at
    else:
        manifest.waiting_since = now_utc()
        manifest.review_due_at = manifest.waiting_since + timedelta(seconds=timeout_s)
    save_manifest(episode_dir, manifest)
    _push(settings, episode_dir)  # the review page, wherever it runs, shows what is in the store
    create_markdown_artifact(
        summary_markdown(manifest.model_dump(mode="json"), review_link(settings.data_dir, settings.review_host, settings.review_port, manifest.episode_id)),
        key=artifact_key(manifest.episode_id, "summary"),
        description=f"Episode summary for the reviewer (review round {gate})",
    )
    release_generators()  # no model held in memory while a human decides
    notify_episode("awaiting_review", episode_dir, settings, findings_headline(manifest.verdict.reasons),
                   key=manifest.version.id, run_url=run_link(manifest.flow_run_id))
    audit_log = settings.data_dir / "audit.jsonl"

    def refused(decision: ReviewDecision, reason: str, attempt: int) -> None:
        get_run_logger().warning("review gate %d refused a decision: %s", gate, reason)
        record_refusal(decision, manifest.version, manifest.episode_id, reason, attempt, audit_log)

    return wait_for_decision(manifest, gate, timeout_s, settings.data_dir, refused)


def _regenerate_refusal(
    decision: ReviewDecision, shot_count: int, gate: int, episode_id: str, version_id: str, settings: Settings
) -> tuple[str | None, Verdict | None]:
    """Why a regenerate cannot be carried out (None: it can), and the screen's verdict on its notes."""
    problem = regenerate_problem(decision.shots, shot_count, gate, settings.max_review_rounds)
    if problem:
        return problem, None
    if decision.take:
        take = check_chosen_take(settings.data_dir, decision.take, episode_id, version_id, decision.shots[0], gate)
        if take.problem:
            return f"the chosen take cannot be used: {take.problem}", None
        # The take's fields reach the generator's record and the viewer: screened like any plan.
        screening = screen_prompt(
            ShotPlan(episode_id=episode_id, language="auto", style="", seed=0, shots=[take.spec]).screening_text(),
            f"{episode_id}-review{gate}-take", settings.screening,
            lists_fingerprint(settings.screening), settings.data_dir / "cache",
        )
        if screening.action == Action.BLOCK:
            return "the chosen take was blocked by the prompt screen: " + "; ".join(screening.verdict().reasons), None
    # The notes reach the generator, so they are screened like any prompt.
    screening = screen_prompt(
        decision.notes, f"{episode_id}-review{gate}-notes", settings.screening,
        lists_fingerprint(settings.screening), settings.data_dir / "cache",
    )
    verdict = screening.verdict()
    if screening.action == Action.BLOCK:
        return "the notes were blocked by the prompt screen: " + "; ".join(verdict.reasons), verdict
    return None, verdict


def _assemble(
    manifest: Manifest, specs: list[ShotSpec], kept_shots: list[GeneratedShot], settings: Settings,
    episode_dir: Path, review_round: int,
) -> None:
    """Stages 6-7: narration, music, subtitles, mux and contact sheet, recorded in the manifest.

    Only what changed is redone: narration and music depend on the story, not the pictures.
    """
    log = get_run_logger()
    request, plan = manifest.request, manifest.plan
    # Each round's final files have their own folder: a version's bytes are never overwritten.
    out_dir = Path(f"round{review_round}")
    (episode_dir / out_dir).mkdir(exist_ok=True)
    log.info("stage 6/8 narration, music, subtitles")
    g = settings.generation
    voices = [
        fresh(narrate_shot, spec.text, plan.language, episode_dir / f"voice{spec.index + 1:02d}.wav", settings.post,
              g.width, g.height, request.voice, request.speech_rate)
        for spec in specs
    ]
    slots = build_timeline([s.duration_s for s in kept_shots], [v.duration_s for v in voices])
    total_s = sum(s.duration_s for s in slots)
    soundtrack = fresh(
        mix_soundtrack, [(slot.voice_start_s, voice.path) for slot, voice in zip(slots, voices, strict=True)],
        total_s, episode_dir / out_dir, request.music_mood or specs[0].mood, plan.seed, settings.post,
    )
    cues = write_subtitles([v.segments for v in voices], slots, episode_dir / out_dir)
    for record, voice in zip(manifest.shots, voices, strict=True):
        record.narration = NarrationRecord(path=voice.path.name, duration_s=voice.duration_s, voice=voice.voice,
                                           failed_voices=voice.failures, segments=len(voice.segments))
    manifest.soundtrack = SoundtrackRecord(
        music=soundtrack.music, integrated_lufs=soundtrack.integrated_lufs, true_peak_db=soundtrack.true_peak_db,
        voice_over_music_db=soundtrack.voice_over_music_db,
    )

    log.info("stage 7/8 mux")
    video = fresh(
        mux_episode, slots, [s.path for s in kept_shots], soundtrack.path, cues, episode_dir / out_dir / "episode.mp4",
        settings.post,
        g.width, g.height, g.fps, plan.language,
        {"title": request.title or request.episode_id, "episode_id": request.episode_id,
         "series": request.series or "", "generator": f"reelgate/{g.backend}", "model": g.model or g.backend},
        [spec.text[:60] for spec in specs],
    )
    for record, slot in zip(manifest.shots, slots, strict=True):
        record.start_s = slot.start_s
    flags = [(f.time_s, f.what if f.kind == "safety" else "quality") for f in episode_flags(manifest.shots)]
    sheet = fresh(make_episode_contact_sheet, video.path, episode_dir / out_dir / "contact_sheet.png", flags,
                  request.episode_id)
    manifest.ai_label = video.aigc
    manifest.outputs = {name: (out_dir / file).as_posix() for name, file in (
        ("video", video.path.name), ("subtitles", "subtitles.srt"), ("subtitles_vtt", "subtitles.vtt"),
        ("contact_sheet", sheet.name), ("soundtrack", soundtrack.path.name),
    )}
    _push(settings, episode_dir)


def _pull(settings: Settings, folder: Path) -> None:
    """With a shared store (REELGATE_STORAGE_URL): bring `folder` up to date from it before working on it."""
    if settings.storage_url is None:
        return
    left_out = pull_folder(settings.storage_url, settings.data_dir, folder)
    if left_out:
        get_run_logger().warning("%d file(s) of %s in the store did not match their recorded sha256 and were not "
                                 "used (their work is done again): %s", len(left_out), folder.name, ", ".join(left_out))


def _push(settings: Settings, folder: Path) -> None:
    """With a shared store: send what this run made to it, so another worker that resumes the run finds it."""
    if settings.storage_url is not None:
        push_folder(settings.storage_url, settings.data_dir, folder)


def _publish(episode_dir: Path, settings: Settings) -> dict:
    if settings.storage_url is not None:
        pull_published(settings.storage_url, settings.data_dir, settings.publish_dir)  # the feeds list every episode
    # publish() copies the approved files aside and hashes the copies: the bytes published are the bytes approved.
    published = publish(episode_dir, settings.publish_dir, settings.publish_base_url)
    if settings.storage_url is not None:
        _push(settings, episode_dir)
        push_published(settings.storage_url, settings.data_dir, settings.publish_dir, published.name)
    get_run_logger().info("published to %s", published)
    notify_episode("published", episode_dir, settings, "published", key="published",
                   run_url=run_link(get_run_context().flow_run.id))
    return _outcome(load_manifest(episode_dir), episode_dir)


def _blocked(manifest: Manifest, episode_dir: Path, verdicts: list[Verdict], what: str, settings: Settings) -> dict:
    manifest.status, manifest.verdict = Status.BLOCKED, Verdict.combine(verdicts)
    save_manifest(episode_dir, manifest)
    _push(settings, episode_dir)
    get_run_logger().warning("%s blocked: %s", what, "; ".join(verdicts[-1].reasons))
    return _outcome(manifest, episode_dir)


def _reference_index(settings: Settings, shots: int) -> int:
    """The shot every other shot's colour is matched to (settings.enhance.match.reference, within the episode)."""
    return min(settings.enhance.match.reference, shots - 1)


def _lighting_reference(spec: ShotSpec, order: list[ShotSpec]) -> int:
    """The shot `spec` is colour-matched to: the first made under the same planned light (time of
    day and weather). A night shot is never pulled toward a dusk reference; the first night shot
    is the reference of the night."""
    return next(s.index for s in order if (s.time_of_day, s.weather) == (spec.time_of_day, spec.weather))


def _reference(made: tuple[ShotRecord, GeneratedShot, Verdict] | None, spec: ShotSpec, index: int) -> Path | None:
    """The generator's own file of the reference shot's kept attempt; None for the reference itself."""
    if made is None or spec.index == index:
        return None
    record, kept, _ = made
    entry = record.attempts[record.kept_attempt] if record.kept_attempt is not None else None
    return (entry.generated if entry is not None else None) or kept.path


def _enhance(shot: GeneratedShot, settings: Settings, reference: Path | None) -> tuple[GeneratedShot, dict, str | None]:
    """(the shot that goes on, what enhancement did, a reason for the reviewer when it failed).

    A failed pass is retried once by the task; if it fails again the shot goes on as
    generated: enhancement never blocks an episode, and safety and quality check whatever
    frames go on.
    """
    if not settings.enhance.enabled:
        return shot, {}, None
    try:
        chosen = for_backend(settings.enhance, shot.backend)
        enhanced, done = fresh(enhance_shot, shot, chosen, reference, settings.planning.preset)
        return enhanced, done, None
    except ReelgateError as exc:
        reason = (f"shot {shot.index + 1}, attempt {shot.attempt + 1}: enhancement failed ({exc}); "
                  "the shot goes on unenhanced")
        get_run_logger().warning(reason)
        return shot, {"failed": str(exc)}, reason


def _produce_shot(
    spec: ShotSpec, settings: Settings, episode_dir: Path, episode_id: str,
    record: ShotRecord | None = None, review_round: int = 1, reference: Path | None = None,
) -> tuple[ShotRecord, GeneratedShot | None, Verdict]:
    """Generate a shot until it passes quality (at most max_attempts); keep the best attempt.

    A generator that refuses the content (a cloud provider's moderation) ends the shot with
    a block: the refusal is recorded and never retried with another seed.
    record, review_round: a shot made again after a review: its new attempts are added to
    `record`, with their own numbers and seeds, and the best of them is kept.
    """
    log = get_run_logger()
    record = record or ShotRecord(index=spec.index, text=spec.text)
    first_entry = len(record.attempts)
    first_attempt = (review_round - 1) * settings.quality.max_attempts  # own file names per round
    attempts: list[tuple[GeneratedShot, QualityReport, SafetyReport]] = []
    enhance_failures: list[str] = []
    for k in range(settings.quality.max_attempts):
        # Deterministic per attempt and round, so a resumed run makes the same choices.
        if review_round == 1:
            seed = spec.seed if k == 0 else derive_seed(spec.seed, "attempt", k)
        else:
            seed = derive_seed(spec.seed, "review", review_round, "attempt", k)
        shot = fresh(generate_shot, spec, seed, first_attempt + k, settings.generation, episode_dir)
        if isinstance(shot, Refusal):
            record.attempts.append(AttemptRecord(review_round=review_round, prompt=spec.prompt, refusal=shot))
            log.warning("shot %d: %s", spec.index + 1, shot.reason())
            return record, None, Verdict(action=Action.BLOCK, reasons=[shot.reason()])
        generated = shot.path
        shot, enhanced, failure = _enhance(shot, settings, reference)
        if failure:
            enhance_failures.append(failure)
        safety = check_shot_safety(shot, settings.safety, episode_id)
        quality = score_shot_quality(
            shot, spec.wants_motion, settings.quality, episode_id, asks=shot_request(spec).asks
        )
        attempts.append((shot, quality, safety))
        entry = AttemptRecord(
            review_round=review_round, prompt=spec.prompt, shot=shot, generated=generated, enhance=enhanced,
            safety_action=safety.action,
            quality=quality.model_dump(mode="json", exclude={"series", "curves"}),
        )
        record.attempts.append(entry)
        if safety.action == Action.BLOCK or quality.passed:
            break
        entry.retry_reason = "; ".join(quality.reasons) or "quality below threshold"
        log.info("shot %d attempt %d failed quality: %s", spec.index + 1, first_attempt + k + 1, entry.retry_reason)

    blocked = [a for a in attempts if a[2].action == Action.BLOCK]
    best_quality = blocked[0][1] if blocked else pick_best([a[1] for a in attempts])
    kept_index = next(i for i, a in enumerate(attempts) if a[1] is best_quality)
    shot, quality, safety = attempts[kept_index]
    record.kept_attempt = first_entry + kept_index
    record.safety = safety.model_dump(mode="json")
    publish_attempts(episode_id, spec.index, record.attempts, record.kept_attempt)

    verdicts = [safety.verdict()]
    if enhance_failures:
        verdicts.append(Verdict(action=Action.REVIEW, reasons=enhance_failures))
    if not quality.passed:
        verdicts.append(Verdict(action=Action.REVIEW, reasons=[
            f"shot {spec.index + 1}: no attempt passed quality in {len(attempts)} tries; kept the best "
            f"(attempt {first_attempt + kept_index + 1}, score {quality.score:.2f}): {'; '.join(quality.reasons)}"
        ]))
    return record, shot, Verdict.combine(verdicts)


def _carry_take(
    ref: str, manifest: Manifest, i: int, settings: Settings, episode_dir: Path, production_round: int, gate: int,
) -> tuple[ShotSpec, tuple[ShotRecord, GeneratedShot | None, Verdict]]:
    """Shot i becomes the chosen take: its video is copied in and checked for safety and quality again.

    No retry with another seed: the take is what the director chose, so a quality flag goes to
    the reviewer rather than being replaced by something nobody saw.
    """
    # The gate's own (cached) check: a replay after a resume carries the same bytes in.
    take = check_chosen_take(settings.data_dir, ref, manifest.episode_id, manifest.version.id, i + 1, gate)
    if take.problem:
        raise InputError(f"the chosen take {ref} cannot be used: {take.problem}")
    spec = take.spec.model_copy(update={"index": i})
    attempt = (production_round - 1) * settings.quality.max_attempts
    path = episode_dir / f"shot{i + 1:02d}_round{production_round}_{ref.replace('/', '_')}.mp4"
    if not path.is_file() or file_sha256(path) != take.video_sha256:
        copy_if_changed(take.video, path)
        if file_sha256(path) != take.video_sha256:  # changed on disk since the gate checked it: fail closed
            path.unlink()
            raise InputError(f"the video of the chosen take {ref} changed after the review gate checked it; "
                             "make the sweep again")
    width, height, fps, duration_s = video_info(path)
    made = take.made_with  # the generator's own record of the take, when the sweep kept it
    shot = GeneratedShot(
        **(made.model_dump(exclude={"index", "attempt", "path", "width", "height", "fps", "frames"}) if made else
           {"backend": settings.generation.backend, "model": settings.generation.model, "seed": spec.seed}),
        index=i, attempt=attempt, path=path, width=width, height=height, fps=fps, frames=max(1, round(fps * duration_s)),
    )
    safety = check_shot_safety(shot, settings.safety, manifest.episode_id)
    quality = score_shot_quality(shot, spec.wants_motion, settings.quality, manifest.episode_id,
                                 asks=shot_request(spec).asks)
    record = manifest.shots[i]
    record.attempts.append(AttemptRecord(
        review_round=production_round, prompt=spec.prompt, shot=shot, generated=path, take=ref,
        safety_action=safety.action, quality=quality.model_dump(mode="json", exclude={"series", "curves"}),
    ))
    record.kept_attempt = len(record.attempts) - 1
    record.safety = safety.model_dump(mode="json")
    publish_attempts(manifest.episode_id, i, record.attempts, record.kept_attempt)
    mark_carried(settings.data_dir, *ref.split("/"))
    verdicts = [safety.verdict()]
    if not quality.passed:
        verdicts.append(Verdict(action=Action.REVIEW, reasons=[
            f"shot {i + 1}: the chosen take {ref} scored {quality.score:.2f} on quality: {'; '.join(quality.reasons)}"
        ]))
    return spec, (record, shot, Verdict.combine(verdicts))


def _outcome(manifest: Manifest, episode_dir: Path) -> dict:
    return {
        "episode_id": manifest.episode_id,
        "status": manifest.status.value,
        "episode_dir": str(episode_dir),
        "reasons": manifest.verdict.reasons,
        "published_to": manifest.published_to,
    }
