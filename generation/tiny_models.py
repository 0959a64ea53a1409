"""Tiny random-weight diffusers video pipelines built in code, for offline tests.

There is no model hub here, so tests of the generation backends build these instead. They
run the real diffusers code paths (tokenize, encode, denoise, switch experts, decode) on
CPU in about a second and are deterministic, which makes them right for plumbing,
size-validation and determinism tests. Their pictures are noise-like: never judge quality
with them. Every component is built from a fixed seed, so building twice gives identical
weights; each folder is saved with `save_pretrained` and is a few MB at most.

What each one mimics (the shapes that callers depend on) and what it does not:

- `build_tiny_wan(dest, "t2v")`: Wan 2.1 T2V-1.3B. `WanPipeline`, a Wan 2.1 VAE (8x
  spatial, 4x temporal compression, 16 latent channels), transformer patch (1, 2, 2), so
  frame sizes tile by 16 and frame counts are 4k+1; one expert. Not mimicked: width and
  depth (2 layers, 2 heads of 12; VAE base width 8, narrower and the seed barely shows),
  the UMT5-XXL text encoder (2 layers of 32, a 400-token BPE vocabulary trained here) and
  the scheduler (FlowMatchEuler, shift 7, where the real model ships UniPC, flow shift 3).
- `build_tiny_wan(dest, "a14b")`: Wan 2.2 T2V-A14B. As "t2v" plus a second expert:
  `transformer` (high noise) runs timesteps >= `boundary_ratio * 1000` (875) and
  `transformer_2` (low noise) the rest. The two experts have different random weights, so
  a test can tell which one ran. Not mimicked: as "t2v"; the real experts are 14B each.
- `build_tiny_wan(dest, "ti2v")`: Wan 2.2 TI2V-5B used for text to video:
  `expand_timesteps=True` (a timestep per latent patch) and the Wan 2.2 VAE shape (residual
  blocks, a 2x2 pixel patchify, 16x spatial compression, 48 latent channels), so frame
  sizes tile by 32 (VAE 16 x transformer patch 2). Not mimicked: as "t2v"; image
  conditioning (the image-to-video path) is not exercised.
- `build_tiny_cogvideox(dest)`: CogVideoX-2b. `CogVideoXPipeline`, a 3D-causal CogVideoX
  VAE (8x spatial, 4x temporal, 16 latent channels), transformer patch 2 with sinusoidal
  3D positions and a 226-token text window (the pipeline's default `max_sequence_length`),
  `CogVideoXDDIMScheduler`. Frame sizes tile by 16, frame counts are 4k+1. Not mimicked:
  width and depth (1 layer, 2 heads of 16), the T5-XXL text encoder (tiny T5, the same
  local tokenizer) and CogVideoX 1.5's rotary positions and temporal patch.

Models built in code are in training mode (dropout on); these configs set dropout to zero
anyway, and `from_pretrained` returns models in eval mode. Saving and loading need
`accelerate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from reelgate.errors import InputError

# Prompts in both languages so that the byte-level tokenizer learns some merges for each.
_CORPUS = [
    "a small fox walks through a snowy forest at dawn",
    "a girl with a red umbrella stands on a bridge in the rain",
    "a lighthouse on a cliff at night, waves crash below",
    "storybook illustration, soft light, calm mood",
    "the camera slowly pushes in on an old wooden boat",
    "一只小狐狸在黎明的雪林里行走",
    "女孩撑着红伞站在雨中的桥上",
    "夜晚悬崖上的灯塔，海浪拍打",
]

# Wan rotary positions per axis (latent frames, latent rows / 2, latent columns / 2):
# 64 covers up to 1024 px and 253 frames. The tables are not saved, so the size is free.
_ROPE_MAX_SEQ_LEN = 64
_TEXT_DIM = 32  # the tiny text encoder's width, which every transformer's text input matches

WanVariant = Literal["t2v", "a14b", "ti2v"]


def _build_tokenizer():
    """A byte-level BPE tokenizer trained on `_CORPUS`, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        # <pad> first so that its id is 0, as T5 models expect.
        special_tokens=["<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    eos = tok.token_to_id("</s>")
    # T5 tokenizers end every text with </s>; the pipelines' attention masks count on it.
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def _build_text_encoder(tokenizer, family: Literal["umt5", "t5"]):
    """A tiny T5-style encoder (2 layers of 32) for `tokenizer`: UMT5 for Wan, T5 for CogVideoX."""
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config = dict(
        vocab_size=len(tokenizer),
        d_model=_TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    if family == "umt5":
        return UMT5EncoderModel(UMT5Config(**config))
    return T5EncoderModel(T5Config(**config))


def _save(pipe, dest: Path) -> Path:
    dest = Path(dest)
    pipe.save_pretrained(dest)
    return dest


def _wan_transformer(latent_channels: int, seed: int):
    """A 2-layer Wan transformer with the real models' patch (1, 2, 2)."""
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=latent_channels,
        out_channels=latent_channels,
        text_dim=_TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=_ROPE_MAX_SEQ_LEN,
    )


def _wan_vae(variant: WanVariant):
    """The Wan 2.1 VAE shape (8x spatial, 16 channels) or, for "ti2v", Wan 2.2's (16x, 48 channels)."""
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    common = dict(base_dim=8, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    if variant != "ti2v":
        return AutoencoderKLWan(z_dim=16, **common)
    # The 2x2 patchify turns 3 colour channels into 12 and adds a factor 2 to the VAE's
    # three 2x downsamples; latents_mean/std must have one entry per latent channel.
    return AutoencoderKLWan(
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        **common,
    )


def build_tiny_wan(dest: Path, variant: WanVariant = "t2v") -> Path:
    """Build a tiny random-weight `WanPipeline` shaped like a real Wan model; save it to `dest`.

    variant: "t2v" (Wan 2.1 T2V-1.3B), "a14b" (Wan 2.2 T2V-A14B, two experts switching at
    boundary_ratio 0.875) or "ti2v" (Wan 2.2 TI2V-5B for text to video: 16x VAE, sizes
    tiling by 32). Returns `dest`.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

    if variant not in ("t2v", "a14b", "ti2v"):
        raise InputError(f"unknown tiny Wan variant {variant!r}: use 't2v', 'a14b' or 'ti2v'")
    tokenizer = _build_tokenizer()
    latent_channels = 48 if variant == "ti2v" else 16
    two_experts = variant == "a14b"
    pipe = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=_build_text_encoder(tokenizer, "umt5"),
        vae=_wan_vae(variant),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        transformer=_wan_transformer(latent_channels, seed=0),
        # A different seed, so that a test can tell which expert produced a step.
        transformer_2=_wan_transformer(latent_channels, seed=1) if two_experts else None,
        boundary_ratio=0.875 if two_experts else None,
        expand_timesteps=variant == "ti2v",
    )
    return _save(pipe, dest)


def build_tiny_cogvideox(dest: Path) -> Path:
    """Build a tiny random-weight `CogVideoXPipeline` shaped like CogVideoX-2b; save it to `dest`."""
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    tokenizer = _build_tokenizer()
    latent_channels = 16
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        # Four blocks: the pipeline reads 2 ** (blocks - 1) = 8 as its spatial factor.
        block_out_channels=(8, 8, 8, 8),
        latent_channels=latent_channels,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=latent_channels,
        out_channels=latent_channels,
        time_embed_dim=8,
        text_embed_dim=_TEXT_DIM,
        num_layers=1,
        # The default size (latent 8x8 = 64 px, 9 frames); other sizes get their
        # positions recomputed on the fly, as in the real model.
        sample_width=8,
        sample_height=8,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        # Must equal the pipeline's max_sequence_length (226 by default, as in CogVideoX-2b).
        max_text_seq_length=226,
    )
    pipe = CogVideoXPipeline(
        tokenizer=tokenizer,
        text_encoder=_build_text_encoder(tokenizer, "t5"),
        vae=vae,
        transformer=transformer,
        # CogVideoX-2b's own scheduler settings (v-prediction, zero terminal SNR, trailing).
        scheduler=CogVideoXDDIMScheduler(
            clip_sample=False,
            prediction_type="v_prediction",
            rescale_betas_zero_snr=True,
            timestep_spacing="trailing",
        ),
    )
    return _save(pipe, dest)
