"""Reading uploads: what a file really is, silence trimming, long clips, examples."""

from __future__ import annotations

import numpy as np
import pytest

from nver_demo import audio
from nver_demo.app import clips
from tests.app_server import EXAMPLES, REAL_CLIP, burst, write


def test_sniff_tells_containers_and_text(tmp_path):
    assert clips.sniff(write(tmp_path / "a.mp3", burst(), 16000, fmt="WAV")) == "wav"  # the extension lies
    assert clips.sniff(REAL_CLIP) == "mp3"
    assert clips.sniff(write(tmp_path / "a.flac", burst(), 16000, fmt="FLAC")) == "flac"
    (tmp_path / "t.wav").write_text("hello\nworld\n")
    assert clips.sniff(tmp_path / "t.wav") == "text"
    (tmp_path / "e.wav").write_bytes(b"")
    assert clips.sniff(tmp_path / "e.wav") == "empty"
    (tmp_path / "b.bin").write_bytes(bytes(range(256)))
    assert clips.sniff(tmp_path / "b.bin") == "unknown"


def test_trim_silence_keeps_the_burst_with_padding():
    sr = 16000
    x = np.concatenate([np.zeros(2 * sr), burst(1.0, sr), np.zeros(3 * sr)]).astype(np.float32)
    start, end = clips.trim_silence(x, sr)
    assert 1.8 * sr <= start <= 2.1 * sr and 2.9 * sr <= end <= 3.2 * sr


def test_recording_with_silence_is_trimmed_and_says_so(tmp_path):
    sr = 16000
    x = np.concatenate([np.zeros(2 * sr), burst(1.0, sr), np.zeros(2 * sr)]).astype(np.float32)
    clip = clips.read_clip(write(tmp_path / "rec.wav", x, sr))
    assert clip.start_s > 1.5 and clip.end_s < 3.5
    assert clip.notes and "Trimmed silence" in clip.notes[0]


def test_short_dataset_like_clip_is_left_alone():
    clip = clips.read_clip(REAL_CLIP)
    assert clip.start_s == 0.0 and clip.end_s == pytest.approx(clip.source_seconds, abs=0.01)
    assert clip.notes == [] and clip.warnings == [] and clip.format == "mp3"


def test_long_file_decodes_only_its_start(tmp_path):
    x = np.tile(burst(1.0, 8000), 120)  # 2 minutes
    clip = clips.read_clip(write(tmp_path / "long.wav", x, 8000))
    assert clip.source_seconds == pytest.approx(120.0)
    assert clip.end_s - clip.start_s == pytest.approx(clips.MAX_ANALYSIS_S, abs=0.05)
    assert "2:00 min long" in clip.warnings[0]


@pytest.mark.parametrize(("wave", "message"), [(np.zeros(16000, np.float32), "silent"),
                                               (burst(0.02), "ms long")])  # fmt: skip
def test_unusable_clips_raise_audio_error(tmp_path, wave, message):
    with pytest.raises(audio.AudioError, match=message):
        clips.read_clip(write(tmp_path / "x.wav", wave, 16000))


def test_nothing_given():
    with pytest.raises(audio.AudioError, match="Nothing to analyse"):
        clips.read_clip(None)


def test_examples_are_real_emogator_clips_with_labels():
    exs = clips.examples(EXAMPLES)
    assert len(exs) >= 6 and all(e.path.exists() for e in exs)
    assert len({e.label for e in exs}) == len(exs)  # one per emotion
    for e in exs:
        assert clips.read_clip(e.path).stats.duration_s > 0.4


def test_a_real_sound_recorded_far_too_low_is_amplified_not_refused(tmp_path):
    x = burst(1.0) * 10 ** (-64 / 20) / np.sqrt(np.mean(burst(1.0) ** 2))  # -64 dBFS, below -60
    clip = clips.read_clip(write(tmp_path / "far.wav", x.astype(np.float32), 16000, subtype="FLOAT"))
    assert clip.stats.level_dbfs == pytest.approx(clips.AMPLIFY_TO_DBFS, abs=1.0)
    assert "-64 dBFS, below the -60 dBFS" in clip.warnings[0] and "amplified by 34 dB" in clip.warnings[0]


def test_noise_below_the_threshold_is_refused_with_the_level_and_threshold(tmp_path):
    noise = (10 ** (-70 / 20) * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    with pytest.raises(audio.AudioError, match=r"level is -70 dBFS, below the -60 dBFS silence threshold"):
        clips.read_clip(write(tmp_path / "hiss.wav", noise, 16000, subtype="FLOAT"))
