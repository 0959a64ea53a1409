"""One registry pattern for every pluggable kind (reelgate/registry.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from reelgate.errors import ConfigError, UnknownBackendError
from reelgate.registry import FACE_EMBEDDERS, GENERATORS, KINDS, VOICES, Registry
from reelgate.settings import RewriterSettings, RunOptions, SafetySettings

ROOT = Path(__file__).resolve().parents[1]
BY_KIND = {registry.kind: registry for registry in KINDS}


def test_every_pluggable_kind_has_a_registry():
    assert set(BY_KIND) == {"generator", "voice", "face embedder", "frame classifier", "enhancer", "upscaler",
                            "interpolation", "notifier", "rewriter"}


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_an_unknown_name_is_a_config_error_that_lists_the_known_ones(kind):
    registry = BY_KIND[kind]
    with pytest.raises(UnknownBackendError) as err:
        registry.get("no-such-backend")
    message = str(err.value)
    assert isinstance(err.value, ConfigError)  # bad configuration: never retried, says what to change
    assert f"unknown {kind} backend 'no-such-backend'" in message
    assert f"known {kind} backends: {', '.join(sorted(registry.names()))}" in message
    if registry.setting:
        assert registry.setting in message
    assert err.value.known == list(registry.names())


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_every_registered_name_resolves_to_what_it_names(kind):
    registry = BY_KIND[kind]
    for name in registry.names():
        found = registry.get(name)
        assert callable(found), (kind, name)
        if isinstance(found, type):  # a backend class carries the name settings and records use
            assert found.name == name, (kind, name)


def test_importing_the_registry_and_settings_imports_no_backend():
    """The tables are strings: nothing heavy loads until a backend is asked for, and asking for the
    Wan generator loads its family file, still without torch or diffusers."""
    modules = sorted({target.split(":")[0] for registry in KINDS for target in registry.targets.values()})
    script = f"""
import json, sys
import reelgate.registry, reelgate.settings, generation.base
heavy = ("torch", "diffusers", "transformers", "facenet_pytorch", "dlib", "nudenet", "open_clip", "piper", "apprise")
before = [m for m in (*heavy, *{modules!r}) if m in sys.modules]
from reelgate.registry import GENERATORS
GENERATORS.get("wan")
after = [m for m in heavy if m in sys.modules]
print(json.dumps({{"before": before, "wan": "generation.wan" in sys.modules, "after": after}}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"before": [], "wan": True, "after": []}


def test_a_module_path_is_accepted_only_where_the_kind_allows_it():
    # The worker's own REELGATE_GENERATION__BACKEND may name a class to import (issue 10: never a run).
    assert GENERATORS.get("generation.animatic:AnimaticGenerator").name == "animatic"
    with pytest.raises(UnknownBackendError, match="known voice backends: command, espeak"):
        VOICES.get("postprocess.tts:PiperVoice")
    with pytest.raises(ValidationError, match="names code to import.*animatic, wan, diffusers, dashscope"):
        RunOptions(backend="generation.animatic:AnimaticGenerator")
    assert RunOptions(backend="wan").backend == "wan"


def test_a_target_that_cannot_be_imported_names_the_backend_and_the_known_ones():
    registry: Registry[object] = Registry("voice", "post.voice_en", {"good": "json:dumps", "gone": "json:no_such"})
    assert registry.get("good") is json.dumps
    with pytest.raises(ConfigError, match="voice backend 'gone' cannot be imported .*known: good, gone"):
        registry.get("gone")
    with pytest.raises(ConfigError, match="'module:attr'"):
        registry.register("bad", "json.dumps")


def test_settings_validators_read_the_names_from_the_registry():
    with pytest.raises(ValidationError, match="safety.face_embedder.*known face embedder backends: dlib, facenet"):
        SafetySettings(face_embedder="arcface")
    with pytest.raises(ValidationError, match="planning.rewriter.kind.*known rewriter backends: dashscope, openai, rules"):
        RewriterSettings(kind="claude")
    FACE_EMBEDDERS.register("fake", f"{__name__}:FakeEmbedder")
    try:
        from safety.likeness import make_embedder

        embedder = make_embedder(SafetySettings(face_embedder="fake"))  # one list: registering is enough
        assert isinstance(embedder, FakeEmbedder)
        assert embedder.embed(np.zeros((4, 4, 3), np.uint8), (0, 0, 4, 4)).shape == (3,)
    finally:
        FACE_EMBEDDERS.targets.pop("fake", None)
    with pytest.raises(ValidationError):
        SafetySettings(face_embedder="fake")


class FakeEmbedder:
    name = "fake"
    dim = 3
    threshold = 0.9

    @classmethod
    def from_settings(cls, settings: SafetySettings) -> FakeEmbedder:
        return cls()

    def embed(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0], np.float32)


def test_unknown_names_reach_the_user_through_each_kind_s_own_call(tmp_path):
    from postprocess.enhance.base import StepContext, VideoShape
    from postprocess.enhance.interpolate import plan as plan_interpolation
    from postprocess.enhance.upscale import plan as plan_upscale
    from postprocess.tts import voices_for
    from reelgate.settings import InterpolateSettings, PostSettings, UpscaleSettings
    from safety.likeness import make_embedder

    shape, context = VideoShape(832, 480, 16, 1.0), StepContext(work_dir=tmp_path)
    calls = {
        "voice": lambda: voices_for("en", PostSettings(voice_en="edge")),
        "face embedder": lambda: make_embedder(SafetySettings.model_construct(face_embedder="arcface")),
        "upscaler": lambda: plan_upscale(UpscaleSettings(size="1280x720", backend="waifu"), shape, context),
        "interpolation": lambda: plan_interpolation(InterpolateSettings(fps=24, backend="dain"), shape, context),
    }
    for kind, call in calls.items():
        with pytest.raises(UnknownBackendError) as err:
            call()
        assert err.value.known == list(BY_KIND[kind].names()), kind
        assert ", ".join(sorted(BY_KIND[kind].names())) in str(err.value), kind
