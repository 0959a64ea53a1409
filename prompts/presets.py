"""Series style presets: the look every shot of a series shares, and how seeds are chosen.

The shipped presets live in prompts/presets/*.yaml; settings.planning.preset names one,
or is a path to a file of the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from prompts.keywords import read_config_yaml
from reelgate.errors import ConfigError

PRESETS_DIR = Path(__file__).parent / "presets"

SEED_POLICIES = ("series", "episode", "fixed")


@dataclass(frozen=True)
class StylePreset:
    """A series-wide look: style words, negative prompt and how seeds are chosen.

    seed_policy: "series": every episode derives its shot seeds from one series seed, so
    shot k looks alike across episodes; "episode": from the episode id; "fixed": every
    shot of every episode uses the series seed itself.
    """

    name: str
    description: str
    style: str
    negative_prompt: str
    seed_policy: str


def _parse_preset_file(path: Path) -> StylePreset:
    data = read_config_yaml(path)
    fields_ = ("name", "description", "style", "negative_prompt", "seed_policy")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(fields_)}")
    for key in data:
        if key not in fields_:
            raise ConfigError(f"{path}: unknown key {key!r}; a preset has {', '.join(fields_)}")
    for key in fields_:
        value = data.get(key, "" if key in ("description", "negative_prompt") else None)
        if not isinstance(value, str) or (key != "negative_prompt" and key != "description" and not value.strip()):
            raise ConfigError(f"{path}: key {key!r} must be text, got {value!r}")
    if data["seed_policy"] not in SEED_POLICIES:
        raise ConfigError(
            f"{path}: key 'seed_policy': {data['seed_policy']!r} is not one of {', '.join(SEED_POLICIES)}"
        )
    return StylePreset(**{k: str(data.get(k, "")).strip() for k in fields_})


@lru_cache(maxsize=1)
def load_presets() -> dict[str, StylePreset]:
    """The shipped presets (prompts/presets/*.yaml) by name."""
    presets: dict[str, StylePreset] = {}
    for path in sorted(PRESETS_DIR.glob("*.yaml")):
        preset = _parse_preset_file(path)
        if preset.name in presets:
            raise ConfigError(f"{path}: key 'name': preset {preset.name!r} is defined twice")
        presets[preset.name] = preset
    return presets


@lru_cache(maxsize=16)
def _preset_from_file(path: Path) -> StylePreset:
    return _parse_preset_file(path)


def get_preset(name: str) -> StylePreset:
    """A shipped preset by name, or a preset file when `name` is a path to a .yaml/.yml file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return _preset_from_file(Path(name).expanduser())
    presets = load_presets()
    if name not in presets:
        raise ConfigError(
            f"unknown style preset {name!r} (settings planning.preset); "
            f"known presets: {', '.join(sorted(presets))}, or a path to a preset .yaml file"
        )
    return presets[name]
