"""Measure the speech gate: share of EmoGator vocal bursts wrongly flagged as speech (goal <= 5 %)
and share of synthesised speech flagged (goal >= 90 %).

Speech is made here with espeak-ng (Debian ``espeak-ng``): sentences in ten languages, several
voices and speeds (:func:`speech_corpus`). EmoGator clips are a fixed-seed sample across speakers
and all 30 categories from ``../shared/data/emogator`` (+ ``emogator_extra``)::

    OMP_NUM_THREADS=1 python bench/bench_speech_gate.py --bursts 300 --window 10
    OMP_NUM_THREADS=1 python bench/bench_speech_gate.py --bursts 300 --window 30   # Whisper's own window

Prints the two shares, time per clip, and each flagged burst / missed sentence with what Whisper heard.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nver_demo import audio
from nver_demo.app import speech_gate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: (espeak voice, sentences): everyday sentences, 2-6 s when spoken.
SENTENCES = {
    "en-us": ["The weather is nice today, so I would like to go for a walk in the park.",
              "Could you please send me the report before the meeting tomorrow morning?",
              "We missed the last train and had to take a taxi back home."],
    "en-gb": ["I have been waiting for the bus for almost twenty minutes now.",
              "She said the shop closes at six on Saturdays."],
    "fr-fr": ["Je voudrais un café et un croissant, s'il vous plaît.",
              "Nous allons partir en vacances au mois d'août avec les enfants."],
    "de": ["Wir treffen uns morgen um neun Uhr am Bahnhof.",
           "Kannst du mir bitte sagen, wie spät es ist?"],
    "es": ["Mañana vamos a visitar a mis abuelos en el pueblo.",
           "¿Dónde está la estación de tren más cercana?"],
    "it": ["Vorrei prenotare un tavolo per quattro persone stasera.",
           "Il treno per Roma parte dal binario tre."],
    "pt": ["Eu gosto muito de ler livros antes de dormir.",
           "Amanhã vai chover durante a tarde inteira."],
    "nl": ["Ik fiets elke dag naar mijn werk, ook als het regent.",
           "Wil je vanavond samen koken?"],
    "pl": ["Dzisiaj po południu idę do sklepu po chleb i mleko.",
           "Czy możesz mi pomóc z tym zadaniem?"],
    "ru": ["Сегодня вечером мы пойдём в кино с друзьями.",
           "Скажите, пожалуйста, как пройти к музею?"],
}  # fmt: skip
VARIANTS = ["", "+m3", "+f2", "+f4", "+klatt"]
SPEEDS = [130, 165, 200]


def speech_corpus(folder: Path, seed: int = 0) -> list[Path]:
    """Synthesise every sentence with two (variant, speed) draws: about 40 clips."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    rng = random.Random(seed)
    out = []
    for voice, sentences in SENTENCES.items():
        for k, text in enumerate(sentences):
            for j in range(2):
                variant, speed = rng.choice(VARIANTS), rng.choice(SPEEDS)
                path = folder / f"{voice}{variant.replace('+', '_')}_{speed}_{k}{j}.wav"
                subprocess.run(["espeak-ng", "-v", voice + variant, "-s", str(speed), "-w", str(path), text],
                               check=True, capture_output=True)  # fmt: skip
                out.append(path)
    return out


def burst_sample(n: int, seed: int = 0) -> list[tuple[Path, str]]:
    """``n`` EmoGator clips, fixed seed, from both folders."""
    rows = []
    for name in ("emogator", "emogator_extra"):
        index = DATA / name / "labels.csv"
        if index.exists():
            with open(index, newline="") as f:
                rows += [(DATA / name / r["path"], r["label"]) for r in csv.DictReader(f)]
    if not rows:
        raise SystemExit(f"no EmoGator data under {DATA}")
    return random.Random(seed).sample(rows, min(n, len(rows)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bursts", type=int, default=300, help="EmoGator clips to test (default 300)")
    ap.add_argument("--window", type=int, default=speech_gate.WINDOW_S, help="encoder window, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="print every clip's transcript")
    args = ap.parse_args()

    t0 = time.perf_counter()
    gate = speech_gate.SpeechGate(window_s=args.window)
    print(f"gate loaded in {time.perf_counter() - t0:.1f} s (window {args.window} s, device {gate.device})")
    with tempfile.TemporaryDirectory() as tmp:
        speech = speech_corpus(Path(tmp), args.seed)
        waves = [audio.prepare(*audio.load(p), speech_gate.SAMPLE_RATE) for p in speech]
    bursts = burst_sample(args.bursts, args.seed)
    bwaves = [audio.prepare(*audio.load(p), speech_gate.SAMPLE_RATE) for p, _ in bursts]

    t0 = time.perf_counter()
    rs = gate.classify(waves, speech_gate.SAMPLE_RATE)
    rb = gate.classify(bwaves, speech_gate.SAMPLE_RATE)
    per_clip = (time.perf_counter() - t0) / (len(rs) + len(rb))

    flagged = [r.is_speech for r in rs]
    wrong = [r.is_speech for r in rb]
    print(
        f"speech flagged as speech: {sum(flagged)}/{len(rs)} = {100 * np.mean(flagged):.1f} % (goal >= 90 %)"
    )
    print(
        f"EmoGator bursts flagged as speech: {sum(wrong)}/{len(rb)} = {100 * np.mean(wrong):.1f} % (goal <= 5 %)"
    )
    print(f"verdicts on bursts: {speech_gate.summary(rb)}")
    print(
        f"time per clip: {per_clip:.2f} s (mean duration speech "
        f"{np.mean([len(w) for w in waves]) / 16000:.1f} s, bursts {np.mean([len(w) for w in bwaves]) / 16000:.1f} s)"
    )
    for p, r in zip(speech, rs):
        if args.verbose or not r.is_speech:
            print(
                f"  speech {'MISSED' if not r.is_speech else 'ok'}: {p.name}: {r.verdict}, {r.words} words, "
                f"{r.language}, no-speech {r.no_speech_prob:.2f}, logprob {r.avg_logprob:.2f}: {r.text!r}"
            )
    for (p, label), r in zip(bursts, rb):
        if args.verbose or r.is_speech:
            print(
                f"  burst {'FLAGGED' if r.is_speech else 'ok'}: {p.name} ({label}): {r.words} words, "
                f"{r.language}, no-speech {r.no_speech_prob:.2f}, logprob {r.avg_logprob:.2f}: {r.text!r}"
            )


if __name__ == "__main__":
    main()
