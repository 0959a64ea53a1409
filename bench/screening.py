"""Benchmark: prompt screening throughput on one core, and start-up time.

    python bench/screening.py [--prompts 3000] [--seconds 3]

The issues' figures: with every normalisation on (pinyin and semantic layers off), a
10,000-term list and 100-character mixed Chinese and English prompts, at least 60,000
prompts per second on one core (houbb/sensitive-word's published ~62.9k/s, Java, laptop
i7); with the pinyin and homophone layers on as well, at least 40,000 (issue 16). Start-up
(loading the default lists) under 1 second.

The list: the shipped default lists plus real Chinese words from pypinyin's phrase table
and made-up English words and two-word phrases, 10,000 terms in all, none of which occurs
in the prompt corpus (a sensitive-word list rarely hits a benign prompt). The prompts:
100-character mixes of Chinese and English story sentences; a second stream has 5 % of
prompts carrying a listed term in disguise (血 腥, ｂｌｏｏｄ, 血@腥, xue xing ...) and a
third has every prompt carrying one.

The baseline, measured in the same run on the same prompts: the same normalised text
(prompts.normalize.fold), then a Python loop of `term in text` over the 10,000 terms.
The process is pinned to one CPU. Each row screens one prompt before its clock starts, so
building the matcher for its layers (start-up, measured apart) is not counted as
throughput.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ZH = [
    "夜晚，一只小狐狸在森林里奔跑，月光洒在湖面上。", "它遇到了一只猫头鹰，两个朋友一起看星星。",
    "织女坐在银河边织布，牛郎牵着老牛走过田野。", "清晨的雾气笼罩着山谷，远处传来钟声。",
    "镜头缓缓推进，古老的城墙上长满了青苔。", "渔夫划着小船穿过芦苇荡，夕阳染红了江面。",
    "天上的星座连成一只巨大的熊，守护着北方。", "小女孩提着灯笼走进竹林，萤火虫围着她飞舞。",
    "海浪拍打着礁石，一座灯塔在远方闪烁。", "山顶上的老树开满了白花，风一吹花瓣飘落。",
    "猎户座升上东方的天空，三颗亮星排成一线。", "龙在云层中穿行，鳞片在阳光下闪闪发光。",
    "村口的石桥下，溪水清澈见底，鱼儿游来游去。", "仙女从月亮上飘下来，衣袖像云一样轻柔。",
]
EN = [
    "A little fox runs through the dark forest at night.", "The owl watches the moon rise over the lake.",
    "Orion hunts across the winter sky with his two dogs.", "The weaver sits by the silver river of stars.",
    "Camera pans left across the quiet harbor at dawn.", "A paper lantern drifts above the bamboo grove.",
    "The great bear circles the pole star forever.", "Waves break softly on the rocks below the lighthouse.",
    "Slow push-in on the old stone bridge, warm light.", "A girl in a red coat walks through falling snow.",
    "The dragon glides between golden clouds at sunset.", "Fireflies gather around the sleeping village.",
]
DISGUISED = ["血 腥", "血@腥", "ｂｌｏｏｄｙ", "g0re", "n u d e", "xue xing", "血\u200b腥", "碎屍", "暴カ", "屠⃝杀"]
TARGET = 60_000  # every normalisation, no optional layer
TARGET_LAYERS = 40_000  # with the pinyin and homophone layers (issue 16)


def make_prompts(rng: random.Random, count: int, length: int = 100) -> list[str]:
    prompts = []
    for _ in range(count):
        text = ""
        while len(text) < length:
            text += rng.choice(ZH) if rng.random() < 0.5 else " " + rng.choice(EN) + " "
        prompts.append(text[:length])
    return prompts


def make_terms(rng: random.Random, prompts: list[str], default_terms: int, total: int = 10_000) -> list[str]:
    """Chinese words and made-up English words/phrases that occur in no prompt."""
    from pypinyin.phrases_dict import phrases_dict

    from prompts.normalize import fold

    corpus = " ".join(fold(p)[0] for p in prompts[:500])
    words = sorted(w for w in phrases_dict if 2 <= len(w) <= 4 and fold(w)[0] not in corpus)
    need = total - default_terms
    zh = rng.sample(words, need // 2)
    syllables = "ka lo mi ter van dro sel pan qui rex tor bel nim ost gru fen lav dak".split()
    en: set[str] = set()
    while len(en) < need - len(zh):
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 3))))
        if rng.random() < 0.2:
            word += " " + "".join(rng.choice(syllables) for _ in range(2))
        if word not in corpus:
            en.add(word)
    return ["暴力"] + zh[1:] + sorted(en)  # 暴力 for the 暴カ disguise


def throughput(fn, prompts: list[str], seconds: float) -> float:
    """Prompts per second over at least `seconds` of repeated passes."""
    done, start = 0, time.perf_counter()
    while True:
        for p in prompts:
            fn(p)
        done += len(prompts)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def startup_seconds() -> tuple[float, float]:
    """(in-process time to load the default lists and build the matcher, whole process wall)."""
    code = (
        "import time; t=time.perf_counter();"
        "from prompts.screen import Screener; s=Screener(); s.screen('warm up 血腥');"
        "print(time.perf_counter()-t)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from prompts.blocklist import Blocklist
    from prompts.normalize import fold
    from prompts.screen import Layers, screen

    rng = random.Random(7)
    clean = make_prompts(rng, args.prompts)
    defaults = Blocklist.load()
    terms = make_terms(rng, clean, len(defaults.terms))
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "bench.txt"
        extra.write_text("#! category=bench action=block\n" + "\n".join(terms) + "\n", encoding="utf-8")
        blocklist = Blocklist.load([extra])
    all_terms = [t.term for t in blocklist.terms]

    def disguise(p: str) -> str:
        at = rng.randrange(0, 80)
        return (p[:at] + " " + rng.choice(DISGUISED) + " " + p[at:])[:100]

    some_hits = [disguise(p) if rng.random() < 0.05 else p for p in clean]
    all_hits = [disguise(p) for p in clean]
    for p in all_hits[:50]:
        assert screen(p, blocklist, Layers(pinyin=True)).matches, p  # every disguise is caught

    def naive(text: str) -> bool:
        norm = fold(text)[0]
        for term in all_terms:
            if term in norm:
                return True
        return False

    normalisations = Layers(pinyin=False, initials=False, homophones=False)
    print(f"screening: {len(blocklist.terms)} terms, {len(clean)} prompts of {len(clean[0])} chars, one core")
    naive_rate = throughput(naive, clean[:300], args.seconds)
    rows = [
        ("clean prompts, every normalisation", clean, normalisations),
        ("5% disguised hits, every normalisation", some_hits, normalisations),
        ("every prompt a disguised hit", all_hits, normalisations),
        ("clean prompts, + homophone layer", clean, Layers(pinyin=False, homophones=True)),
        ("clean prompts, + pinyin and homophones", clean, Layers(pinyin=True, homophones=True)),
    ]
    print(f"  {'baseline: fold + loop of substring checks':44s} {naive_rate:10,.0f} prompts/s")
    for name, stream, layers in rows:
        screen(stream[0], blocklist, layers)  # build this layer set's matcher first
        rate = throughput(lambda p, layers=layers: screen(p, blocklist, layers), stream, args.seconds)
        target = TARGET_LAYERS if layers.pinyin and layers.homophones else TARGET
        print(f"  {name:44s} {rate:10,.0f} prompts/s  {rate / naive_rate:6.1f}x baseline  "
              f"{rate / target:5.2f}x target {target:,}")
    inproc, wall = startup_seconds()
    print(f"start-up: default lists loaded and matcher built in {inproc:.2f} s in-process "
          f"({wall:.2f} s with Python start); target < 1 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
