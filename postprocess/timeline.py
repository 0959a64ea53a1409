"""The episode timeline: where each shot and its narration sit in the final video.

A slot is as long as its shot, or longer when the narration needs more time (the
assembler then holds the shot's last frame). Slots are contiguous, so the video and the
narration track are both exactly the sum of the slots.

Within a slot, a shot's narration is a row of spoken segments (one per subtitle cue),
each with its offset and length MEASURED from the audio; subtitles are placed from these.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelgate.errors import InputError


@dataclass
class SpokenSegment:
    """One subtitle segment as spoken: `offset_s` from the start of its narration clip."""

    text: str  # the cue text shown on screen (at most one newline)
    offset_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.offset_s + self.duration_s


@dataclass
class Slot:
    """One shot's place in the episode, in seconds from the episode start."""

    index: int
    start_s: float
    duration_s: float
    voice_start_s: float
    voice_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def build_timeline(
    shot_durations: list[float],
    voice_durations: list[float],
    lead_s: float = 0.25,
    tail_s: float = 0.35,
) -> list[Slot]:
    """Lay shots end to end; each lasts max(shot length, lead + voice + tail).

    Args:
        shot_durations: length of each generated shot video, seconds.
        voice_durations: MEASURED length of each shot's narration, seconds (0 for none).
        lead_s: silence before the voice starts within its slot.
        tail_s: silence kept after the voice before the next slot starts.
    """
    if len(shot_durations) != len(voice_durations):
        raise InputError(
            f"timeline needs one voice duration per shot: got {len(shot_durations)} shots "
            f"and {len(voice_durations)} voice durations"
        )
    if lead_s < 0 or tail_s < 0:
        raise InputError(f"lead_s and tail_s must be >= 0, got {lead_s} and {tail_s}")
    slots: list[Slot] = []
    start = 0.0
    for i, (shot_s, voice_s) in enumerate(zip(shot_durations, voice_durations)):
        if shot_s <= 0 or voice_s < 0:
            raise InputError(f"shot {i}: shot length must be > 0 and voice length >= 0, got {shot_s} and {voice_s}")
        needed = lead_s + voice_s + tail_s if voice_s > 0 else 0.0
        duration = max(shot_s, needed)
        slots.append(Slot(index=i, start_s=start, duration_s=duration, voice_start_s=start + lead_s, voice_s=voice_s))
        start += duration
    return slots


def total_duration(slots: list[Slot]) -> float:
    """Length of the whole episode, seconds."""
    return slots[-1].end_s if slots else 0.0
