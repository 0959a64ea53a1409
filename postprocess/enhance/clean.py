"""Clean-up: light temporal denoise, optional deband, then unsharp on edges; ffmpeg filters only.

The order is denoise, deband, sharpen: sharpening last so it never sharpens the noise or
the band edges the first two remove.

How the settings map to filters (CleanSettings):
- denoise d (0..1): ``hqdn3d=8d:6d:12d:9d`` (luma spatial, chroma spatial, luma temporal,
  chroma temporal). d = 0.5 is hqdn3d's own default strength (4:3:6:4.5). Higher ghosts on
  motion: at d = 1 a slow pan loses 0.85 dB PSNR against d = 0.5 (both with unsharp 0.6).
  hqdn3d beat atadenoise (similar speed, 0.016 less SSIM gain) and nlmeans (best SSIM, but 3x the time).
- deband (bool): ``deband=1thr=0.02:2thr=0.02:3thr=0.02:range=16`` (ffmpeg's own
  default, written out). Off by default, because it helps only where bands are coarse:
  on a still gradient quantised in steps of 8 it lowers visible banding (measure.banding)
  from 2.15 to 1.80 and raises PSNR 0.4 dB (steps of 12: 3.11 to 2.47, +0.8 dB), but on
  steps of 3-6 its dither adds more error than it removes, and on the noisy textured
  pans below it costs 0.4 dB and 0.014 SSIM. Milder settings (0.015, range 12) cost
  little on texture (-0.08 dB) but did little for bands (steps of 12: 3.11 to 2.93).
  Switch it on for shots with visible bands.
- sharpen s (0..1): ``unsharp=7:7:s`` (7x7 luma unsharp mask, amount s; chroma untouched
  so edges get no colour fringes). cas was tried first and lost PSNR and SSIM at every
  strength on these clips (it sharpens what noise is left); s = 1 quadruples halo.

Measured (tests/enhance_clips.py: a 16-frame pan across astronaut, coffee, chelsea and
rocket at 320x180, downscaled x2, blurred sigma 0.8, noise sigma 5 per frame, smooth
areas banded in steps of 6; means of the four; measure.py; halo in grey levels):
  degraded input        PSNR 28.89 dB  SSIM 0.813  halo 0.018
  defaults (d .5, s .3) PSNR 29.02 dB  SSIM 0.838  halo 0.017
  d .5, s .4            PSNR 29.08 dB  SSIM 0.836  halo 0.021
  denoise only (d .5)   PSNR 28.88 dB  SSIM 0.842  halo 0.005
  d .5, s 1             PSNR 29.24 dB  SSIM 0.817  halo 0.077
Per photograph (12 frames, another noise seed) the defaults give astronaut +0.34 dB,
coffee +0.21, rocket +0.29, but chelsea -0.18 dB (its fine fur reads as noise to hqdn3d);
SSIM rises on all four (+0.010 to +0.062), halo stays within the input's.
The bound the tests hold the defaults to: SSIM up on every clip, PSNR up on average and
never down by more than 0.3 dB, halo at most 1.5x the input's (+0.005).

What it costs footage that is already clean and sharp (the same pan, not degraded; rocket):
denoise d .5 alone -1.45 dB (SSIM 0.972 -> 0.961, no visible trails), d 1 -3.4 dB (so
"strong hqdn3d ghosts" holds: the temporal part at 12 alone costs 1.7 dB on a clean pan,
at 6 0.7 dB); the defaults -2.0 dB with halo 0.05 -> 0.50, and s .4 rings more (0.73).
The sharpen default is tuned for soft generated video (Wan 2.x renders soft); for sharp
sources set sharpen 0 (REELGATE_ENHANCE__CLEAN__SHARPEN=0) and denoise lower.

Cost, seconds per video second on this noisy 2-core machine (load 5-6 from other work;
one ffmpeg pass with x264 veryfast, 3 s clips, two runs each), beside the same pass with
no filter measured in the same run:
  832x480@16:  0.47 s (floor 0.36-0.38 s): the filters add ~0.1 s.
  1280x720@24: 1.41-1.43 s (floor 1.35-1.42 s): within the noise (the smoother frames
  encode faster, which pays for most of the filtering).
  An earlier, busier run: 0.81-0.90 s against 0.75 s, and 3.0 s against 2.6-2.8 s.
"""

from __future__ import annotations

from reelgate.settings import CleanSettings

from postprocess.enhance.base import StepContext, StepPlan, VideoShape

DEBAND = "deband=1thr=0.02:2thr=0.02:3thr=0.02:range=16"


def denoise_filter(strength: float) -> str | None:
    """hqdn3d at `strength` (0..1; 0.5 is hqdn3d's default), None at 0."""
    if strength <= 0:
        return None
    d = strength
    return f"hqdn3d={8 * d:.3g}:{6 * d:.3g}:{12 * d:.3g}:{9 * d:.3g}"


def sharpen_filter(strength: float) -> str | None:
    """A 7x7 luma unsharp mask of amount `strength` (0..1), None at 0."""
    if strength <= 0:
        return None
    return f"unsharp=7:7:{strength:.3g}"


def plan(settings: CleanSettings, shape: VideoShape, context: StepContext) -> StepPlan | None:
    """Denoise, deband and sharpen as filters; None when switched off or every part is at 0."""
    if not settings.enabled:
        return None
    filters = [f for f in (denoise_filter(settings.denoise), DEBAND if settings.deband else None,
                           sharpen_filter(settings.sharpen)) if f]
    if not filters:
        return None
    record: dict[str, object] = {"denoise": settings.denoise, "deband": settings.deband, "sharpen": settings.sharpen}
    return StepPlan(step="clean", filters=tuple(filters), record=record, shape=shape)
