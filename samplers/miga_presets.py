"""MIGA settings per video backbone (Feng et al., arXiv 2605.18233), as data.

``wan21`` is the official Wan2.1-T2V-1.3B configuration and is built from the defaults of the config dataclasses
(:mod:`.config`), so each default lives in one place: the MIGA nodes take their widget defaults from those
dataclasses and their description's preset note from :func:`preset_note`; the README's per-backbone table is checked
against :data:`MIGA_PRESETS` by a test. The other presets are untuned starting points that keep Wan's proportions
(about 80% of the steps in stage 1, ``L_zig <= window - guidance``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import GuidanceConfig, QueueConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig


@dataclass(frozen=True)
class MigaPreset:
    """One backbone's MIGA settings: ``window`` latents per model call (FIFO Queue Init's ``window_length``) and
    the four MIGA parts; ``label`` names the backbone for the nodes' descriptions, ``note`` says where it comes from."""

    label: str
    window: int
    zigzag: ZigzagConfig
    unified: UnifiedConfig
    reflection: ReflectionConfig
    guidance: GuidanceConfig
    note: str

    def queue(self, init: str = "noise") -> QueueConfig:
        """The whole chain as a :class:`.config.QueueConfig` (FIFO Queue Init's other settings at their defaults)."""
        return QueueConfig(self.window, 2, True, init, self.zigzag, self.unified, self.reflection, self.guidance)


MIGA_PRESETS: dict[str, MigaPreset] = {
    "wan21": MigaPreset(
        "Wan 2.1", 21, ZigzagConfig(), UnifiedConfig(), ReflectionConfig(), GuidanceConfig(),
        "Official Wan2.1-T2V-1.3B config: 81 frames = 21 latents (17 queue + 4 guidance), shift 5, cfg 5. Slide: "
        "ours (auto = 17, windows write all they read); the official code's is 10."),
    "ltxv": MigaPreset(
        "LTX-Video", 13, ZigzagConfig(steps=40, group=3, end_step=32),
        UnifiedConfig(steps=8, renoise_step=32), ReflectionConfig(judged_level=8), GuidanceConfig(latents=3, span=48),
        "Untuned starting point: LTX-Video 97 frames = 13 latents (8x temporal); keep L_zig <= f - m = 10."),
    "cosmos": MigaPreset(
        "Cosmos Predict2", 24, ZigzagConfig(steps=35, group=6, end_step=28),
        UnifiedConfig(steps=7, renoise_step=28), ReflectionConfig(judged_level=8), GuidanceConfig(),
        "Untuned starting point: Cosmos Predict2 93 frames = 24 latents, its default 35 steps; variance-exploding "
        "scaling (RFlow in ComfyUI), so thresholds may need retuning."),
}


def preset_note() -> str:
    """One sentence for the Zigzag and Unified Stage descriptions: the defaults' backbone and the other presets."""
    wan, others = MIGA_PRESETS["wan21"], [p for name, p in MIGA_PRESETS.items() if name != "wan21"]
    rest = "; ".join(f"{p.label} (window {p.window}): steps {p.zigzag.steps}, L_zig {p.zigzag.group}, end "
                     f"{p.zigzag.end_step}, unified {p.unified.steps}" for p in others)
    return f"Defaults: {wan.label} official (window {wan.window}). {rest} (untuned starting points)."
