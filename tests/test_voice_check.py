"""The no-voice signal checks: every synthetic non-voice kind, at several levels and lengths, is
refused; real vocal bursts (the shipped examples, EmoGator clips when present) are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nver_demo import audio, voice_check
from nver_demo.app import bursts
from nver_demo.training import trust_sounds

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.mp3"))


@pytest.mark.parametrize("kind", trust_sounds.NON_VOICE)
@pytest.mark.parametrize("dbfs", trust_sounds.LEVELS_DBFS)
@pytest.mark.parametrize("seconds", trust_sounds.LENGTHS_S)
def test_synthetic_non_voice_is_refused(kind, dbfs, seconds):
    x = trust_sounds.non_voice(kind, seconds, dbfs, seed=3)
    v = voice_check.check(x, trust_sounds.SR)
    assert not v.is_voice and v.reasons, (kind, v.measures)
    assert v.warning and v.warning.startswith("This does not sound like a voice")
    assert all(voice_check.REASONS[r] in v.warning for r in v.reasons)


@pytest.mark.parametrize("kind", trust_sounds.NON_VOICE)
def test_non_voice_leaves_no_timeline_burst(kind):
    """Whatever the burst detector cuts out of a long non-voice signal is refused too (the timeline
    drops exactly these: timeline.classify)."""
    x = trust_sounds.non_voice(kind, 20.0, -12.0, seed=1)
    x = np.concatenate([np.zeros(8000, np.float32), x, np.zeros(8000, np.float32)])
    found = bursts.detect(x, trust_sounds.SR)
    assert not [b for b in found if voice_check.check(b.wave, bursts.SAMPLE_RATE).is_voice]


@pytest.mark.parametrize("sr", [8000, 44100])
def test_other_sample_rates_and_int_input(sr):
    x = trust_sounds.non_voice("square", 1.0, -1.0)
    x = audio.resample(x, trust_sounds.SR, sr)
    v = voice_check.check((np.clip(x, -1, 1) * 32767).astype(np.int16), sr)
    assert not v.is_voice


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_are_voices(path):
    wave, sr = audio.load(path)
    v = voice_check.check(wave, sr)
    assert v.is_voice, (path.name, v.reasons, v.measures)


def test_dc_on_a_voice_is_still_a_voice():
    """A small offset under a real burst does not make it a non-voice (the DC check is about an
    offset carrying most of the energy)."""
    wave, sr = audio.load(EXAMPLES[0])
    x = audio.to_mono(audio.to_float(wave))
    assert voice_check.check(x + 0.2 * np.abs(x).std(), sr).is_voice


def test_channel_measures_are_reported_apart():
    wave, sr = audio.load(EXAMPLES[0])
    narrow, _ = trust_sounds.channel_shift(wave, sr, "8khz")
    a, b = voice_check.check(wave, sr).measures, voice_check.check(narrow, sr).measures
    assert b["bandwidth_hz"] < 4000 <= a["bandwidth_hz"] or b["bandwidth_hz"] < a["bandwidth_hz"]
