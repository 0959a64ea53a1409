"""The episode flow: one prompt in, one moderated video waiting for a human decision out.

Read it top to bottom; it is the pipeline. Every stage is a cached, persisted task, so a
run that crashes or is suspended for review and started again redoes only unfinished work.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context
from prefect.flow_runs import suspend_flow_run

from editorial.manifest import (
    Decision, Manifest, ReviewDecision, ShotRecord, Status, load_manifest, manifest_path, save_manifest,
)
from editorial.report import summary_markdown
from generation.base import check_backend, release_generators, uses_gpu
from postprocess.timeline import build_timeline
from prompts.screen import lists_fingerprint
from prompts.structure import derive_seed
from quality.score import QualityReport, pick_best
from reelgate.records import Action, EpisodeRequest, GeneratedShot, Refusal, ShotSpec, Verdict
from reelgate.settings import Settings
from safety.report import SafetyReport
from tasks.checks import check_shot_safety, publish_attempts, score_shot_quality
from tasks.common import artifact_key
from tasks.editorial import make_episode_contact_sheet, publish, record_decision
from tasks.generation import ensure_gpu_limit, generate_shot
from tasks.post import mix_soundtrack, mux_episode, narrate_shot, write_subtitles
from tasks.screening import plan_episode, screen_prompt

REVIEW_KEY = "review"


@flow(name="produce-episode", persist_result=True)
def produce_episode(request: EpisodeRequest, settings: Settings) -> dict:
    """Produce one episode, wait at the review gate, and publish it if a human approves."""
    log = get_run_logger()
    flow_run_id = str(get_run_context().flow_run.id)
    episode_dir = settings.episodes_dir / request.episode_id
    episode_dir.mkdir(parents=True, exist_ok=True)
    previous = load_manifest(episode_dir) if manifest_path(episode_dir).is_file() else None
    if previous is not None and previous.status in (Status.PUBLISHED, Status.REJECTED):
        log.info("episode %s was already decided (%s); nothing to redo", request.episode_id, previous.status.value)
        return _outcome(previous, episode_dir)
    manifest = Manifest(episode_id=request.episode_id, request=request, flow_run_id=flow_run_id)
    if previous is not None:
        # A recorded decision is never dropped by re-running the stages before the gate.
        manifest.review, manifest.created_at = previous.review, previous.created_at
    check_backend(settings.generation)  # a missing model fails here, before any work
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
        log.warning("prompt blocked: %s", "; ".join(manifest.verdict.reasons))
        return _outcome(manifest, episode_dir)

    log.info("stage 2/8 structure prompt and plan shots")
    plan = plan_episode(request, settings.planning)
    manifest.plan, manifest.language = plan, plan.language
    manifest.backend, manifest.model = settings.generation.backend, settings.generation.model
    log.info("planned %d shots, seed %d, language %s", len(plan.shots), plan.seed, plan.language)

    log.info("stage 3-5/8 generate, check safety, score quality")
    findings: list[Verdict] = [screening.verdict()] if screening.action != Action.ALLOW else []
    kept_shots: list[GeneratedShot] = []
    for spec in plan.shots:
        record, kept, verdict = _produce_shot(spec, settings, episode_dir, request.episode_id)
        manifest.shots.append(record)
        findings.append(verdict)
        if kept is None or verdict.action == Action.BLOCK:
            manifest.status, manifest.verdict = Status.BLOCKED, Verdict.combine(findings)
            save_manifest(episode_dir, manifest)
            log.warning("shot %d blocked: %s", spec.index + 1, "; ".join(verdict.reasons))
            return _outcome(manifest, episode_dir)
        kept_shots.append(kept)
    manifest.verdict = Verdict.combine(findings)

    log.info("stage 6/8 narration, music, subtitles")
    g = settings.generation
    voices = [
        narrate_shot(spec.text, plan.language, episode_dir / f"voice{spec.index + 1:02d}.wav", settings.post,
                     g.width, g.height, request.voice, request.speech_rate)
        for spec in plan.shots
    ]
    slots = build_timeline([s.duration_s for s in kept_shots], [v.duration_s for v in voices])
    total_s = sum(s.duration_s for s in slots)
    soundtrack = mix_soundtrack(
        [(slot.voice_start_s, voice.path) for slot, voice in zip(slots, voices, strict=True)],
        total_s, episode_dir, request.music_mood or plan.shots[0].mood, plan.seed, settings.post,
    )
    cues = write_subtitles([v.segments for v in voices], slots, episode_dir)
    for record, voice in zip(manifest.shots, voices, strict=True):
        record.narration = {"path": voice.path.name, "duration_s": voice.duration_s, "voice": voice.voice,
                            "failed_voices": voice.failures, "segments": len(voice.segments)}
    manifest.soundtrack = {"music": soundtrack.music, "integrated_lufs": soundtrack.integrated_lufs,
                           "true_peak_db": soundtrack.true_peak_db, "voice_over_music_db": soundtrack.voice_over_music_db}

    log.info("stage 7/8 mux")
    video = mux_episode(
        slots, [s.path for s in kept_shots], soundtrack.path, cues, episode_dir / "episode.mp4", settings.post,
        g.width, g.height, g.fps, plan.language,
        {"title": request.title or request.episode_id, "episode_id": request.episode_id,
         "series": request.series or "", "generator": f"reelgate/{g.backend}", "model": g.model or g.backend},
        [spec.text[:60] for spec in plan.shots],
    )
    flags = _flags_in_episode_time(manifest.shots, slots)
    sheet = make_episode_contact_sheet(video.path, episode_dir / "contact_sheet.png", flags, request.episode_id)
    manifest.ai_label = video.aigc
    manifest.outputs = {
        "video": video.path.name, "subtitles": "subtitles.srt", "subtitles_vtt": "subtitles.vtt",
        "contact_sheet": sheet.name, "soundtrack": soundtrack.path.name,
    }

    log.info("stage 8/8 waiting for review")
    manifest.status = Status.AWAITING_REVIEW if manifest.review is None else previous.status
    save_manifest(episode_dir, manifest)
    create_markdown_artifact(
        summary_markdown(manifest.model_dump(mode="json")),
        key=artifact_key(request.episode_id, "summary"),
        description="Episode summary for the reviewer",
    )
    release_generators()  # no model held in memory while a human decides
    decision = suspend_flow_run(
        wait_for_input=ReviewDecision, timeout=int(settings.review_timeout_hours * 3600), key=REVIEW_KEY
    )
    manifest = record_decision(episode_dir, decision, flow_run_id, settings.data_dir / "audit.jsonl")
    if decision.decision == Decision.APPROVE:
        published = publish(episode_dir, settings.publish_dir)
        log.info("published to %s", published)
        manifest.status, manifest.published_to = Status.PUBLISHED, str(published)
    return _outcome(manifest, episode_dir)


def _produce_shot(
    spec: ShotSpec, settings: Settings, episode_dir: Path, episode_id: str
) -> tuple[ShotRecord, GeneratedShot | None, Verdict]:
    """Generate a shot until it passes quality (at most max_attempts); keep the best attempt.

    A generator that refuses the content (a cloud provider's moderation) ends the shot with
    a block: the refusal is recorded and never retried with another seed.
    """
    log = get_run_logger()
    record = ShotRecord(index=spec.index, text=spec.text)
    attempts: list[tuple[GeneratedShot, QualityReport, SafetyReport]] = []
    for attempt in range(settings.quality.max_attempts):
        # Deterministic per attempt, so a resumed run makes the same choices.
        seed = spec.seed if attempt == 0 else derive_seed(spec.seed, "attempt", attempt)
        shot = generate_shot(spec, seed, attempt, settings.generation, episode_dir)
        if isinstance(shot, Refusal):
            record.attempts.append({"refusal": shot.model_dump(mode="json")})
            log.warning("shot %d: %s", spec.index + 1, shot.reason())
            return record, None, Verdict(action=Action.BLOCK, reasons=[shot.reason()])
        safety = check_shot_safety(shot, settings.safety, episode_id)
        quality = score_shot_quality(shot, spec.wants_motion, settings.quality, episode_id)
        attempts.append((shot, quality, safety))
        entry = {"shot": shot.model_dump(mode="json"), "quality": quality.model_dump(mode="json", exclude={"series", "curves"}),
                 "safety_action": safety.action.value}
        record.attempts.append(entry)
        if safety.action == Action.BLOCK or quality.passed:
            break
        entry["retry_reason"] = "; ".join(quality.reasons) or "quality below threshold"
        log.info("shot %d attempt %d failed quality: %s", spec.index + 1, attempt + 1, entry["retry_reason"])

    blocked = [a for a in attempts if a[2].action == Action.BLOCK]
    best_quality = blocked[0][1] if blocked else pick_best([a[1] for a in attempts])
    kept_index = next(i for i, a in enumerate(attempts) if a[1] is best_quality)
    shot, quality, safety = attempts[kept_index]
    record.kept_attempt = kept_index
    record.safety = safety.model_dump(mode="json")
    publish_attempts(episode_id, spec.index, record.attempts, kept_index)

    verdicts = [safety.verdict()]
    if not quality.passed:
        verdicts.append(Verdict(action=Action.REVIEW, reasons=[
            f"shot {spec.index + 1}: no attempt passed quality in {len(attempts)} tries; kept the best "
            f"(attempt {kept_index + 1}, score {quality.score:.2f}): {'; '.join(quality.reasons)}"
        ]))
    return record, shot, Verdict.combine(verdicts)


def _flags_in_episode_time(shots: list[ShotRecord], slots: list) -> list[tuple[float, str]]:
    """Safety and quality flags of kept attempts, moved from shot time to episode time."""
    flags: list[tuple[float, str]] = []
    for record, slot in zip(shots, slots, strict=True):
        for finding in (record.safety or {}).get("findings", []):
            if finding.get("action") in (Action.REVIEW.value, Action.BLOCK.value):
                flags.append((slot.start_s + finding["time_s"], f"{finding['check']}: {finding['label']}"))
        quality = record.attempts[record.kept_attempt]["quality"] if record.attempts else {}
        for t in quality.get("flagged_times", []):
            flags.append((slot.start_s + t, "quality"))
    return flags


def _outcome(manifest: Manifest, episode_dir: Path) -> dict:
    return {
        "episode_id": manifest.episode_id,
        "status": manifest.status.value,
        "episode_dir": str(episode_dir),
        "reasons": manifest.verdict.reasons,
        "published_to": manifest.published_to,
    }
