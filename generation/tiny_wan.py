"""A tiny random-weight Wan pipeline built in code, for tests and plumbing checks offline.

The configuration follows diffusers' own Wan tests (`get_dummy_components`); the text
encoder and tokenizer are built locally too, because there is no model hub here. The
pictures are noise-like: it exercises loading, denoising, decoding and writing, not art.
"""

from __future__ import annotations

from pathlib import Path

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

# Rotary positions per axis (latent frames, rows/2, columns/2): 64 covers up to 1024 px and 253 frames.
_ROPE_MAX_SEQ_LEN = 64


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
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def build_tiny_wan(dest: Path) -> Path:
    """Build a tiny random-weight `WanPipeline` and save it to `dest` (a few MB); return `dest`."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    dest = Path(dest)
    tokenizer = _build_tokenizer()

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    torch.manual_seed(0)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=_ROPE_MAX_SEQ_LEN,
    )
    pipe = WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer
    )
    pipe.save_pretrained(dest)
    return dest
