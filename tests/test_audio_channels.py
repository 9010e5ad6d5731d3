"""Multi-channel clips are averaged to mono, whichever layout they come in: channels-first
``(channels, n)`` (librosa, torch) or channels-last ``(n, channels)`` (soundfile, Gradio), in the
down-mix itself, in the input gate reading a stereo file, in a backbone and in a prediction.
The channels differ, so keeping one channel instead of the mean shows."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from nver_demo import audio
from nver_demo.app import clips
from nver_demo.predict import Predictor, get_backbone
from tests import quick_checkpoints as qc

SR = 16000


def _channels(n_channels: int, seconds: float = 0.8) -> np.ndarray:
    """``(n_channels, n)``: a voice-like burst at a different pitch and level in each channel."""
    labels = qc.LABELS
    return np.stack(
        [qc.clip(labels[c % 5], speaker=c, seconds=seconds) * (1.0 - 0.1 * c) for c in range(n_channels)]
    )


@pytest.mark.parametrize("n_channels", [2, 6])
def test_to_mono_averages_both_layouts(n_channels):
    chans = _channels(n_channels)
    mean = chans.mean(0)
    np.testing.assert_allclose(audio.to_mono(chans), mean, atol=1e-7)  # (channels, n)
    np.testing.assert_allclose(audio.to_mono(np.ascontiguousarray(chans.T)), mean, atol=1e-7)  # (n, channels)
    assert np.abs(mean - chans[0]).max() > 0.05  # channel 0 alone would not pass


@pytest.mark.parametrize("layout", ["channels-first", "channels-last"])
def test_prepare_averages_before_resampling(layout):
    chans = _channels(2)
    wave = chans if layout == "channels-first" else chans.T
    int16 = (wave * 32767).astype(np.int16)  # PCM as a file or a microphone gives it
    got = audio.prepare(int16, SR, 8000)
    want = audio.resample(chans.mean(0), SR, 8000)
    assert got.shape == want.shape == (len(chans[0]) // 2,)
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_a_stereo_file_reaches_the_model_as_the_mean_of_its_channels(tmp_path):
    chans = _channels(2)
    path = tmp_path / "stereo.wav"
    sf.write(path, chans.T, SR, subtype="FLOAT")  # soundfile reads it back (n, 2)
    clip = clips.read_clip(path)
    assert clip.wave.ndim == 1
    np.testing.assert_allclose(clip.wave, chans.mean(0), atol=1e-6)


@pytest.mark.parametrize("layout", ["channels-first", "channels-last"])
def test_backbone_and_prediction_of_a_stereo_clip_are_those_of_its_mean(tmp_path, layout):
    chans = _channels(2)
    wave = chans if layout == "channels-first" else np.ascontiguousarray(chans.T)
    mono = chans.mean(0)
    bb = get_backbone(qc.BACKBONE)
    np.testing.assert_allclose(bb.embed(wave, SR), bb.embed(mono, SR), rtol=1e-5, atol=1e-6)
    assert np.abs(bb.embed(mono, SR) - bb.embed(chans[0], SR)).max() > 1e-3  # the channels differ to it
    model = Predictor.load(qc.save(tmp_path / "lda", references=False))
    got, want = model.predict(wave, SR), model.predict(mono, SR)
    assert got.probs == pytest.approx(want.probs, abs=1e-6)
    np.testing.assert_allclose(got.embeddings[qc.BACKBONE], want.embeddings[qc.BACKBONE], rtol=1e-5, atol=1e-6)
