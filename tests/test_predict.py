import numpy as np
import pytest

from nver_demo import audio
from nver_demo.predict import Predictor, embed_clip, get_backbone
from tests.conftest import tone


def test_predict_probs_sum_to_one_and_are_sorted(tiny_checkpoint):
    p = Predictor.load(tiny_checkpoint)
    pred = p.predict(tone(0.6, 22050, freq=990.0), 22050)
    values = list(pred.probs.values())
    assert sum(values) == pytest.approx(1.0, abs=1e-6)
    assert values == sorted(values, reverse=True)
    assert set(pred.probs) == set(p.labels) and pred.label == next(iter(pred.probs))
    assert set(pred.embeddings) == {"logmel-stats", "egemaps"}
    assert pred.views["fused"].shape == (128,)
    assert any(k.startswith("embed ") for k in pred.timings) and "head" in pred.timings


def test_predict_learns_the_synthetic_task(tiny_checkpoint):
    p = Predictor.load(tiny_checkpoint)
    hits = sum(p.predict(tone(0.6, 16000, f, seed=99), 16000).label == lab
               for lab, f in [("low", 112.0), ("mid", 335.0), ("high", 1000.0)])  # fmt: skip
    assert hits >= 2


def test_predict_from_embeddings_equals_predict(tiny_checkpoint):
    p = Predictor.load(tiny_checkpoint)
    wave = tone(0.6, 16000, 330.0)
    embs, _ = embed_clip(p.backbones, wave, 16000)
    a, b = p.predict(wave, 16000), p.predict_embeddings(embs)
    assert a.probs == pytest.approx(b.probs)


def test_backbones_are_shared_between_predictors(tiny_checkpoint):
    assert get_backbone("logmel-stats") is get_backbone("logmel-stats")


def test_silence_raises_audio_error(tiny_checkpoint):
    p = Predictor.load(tiny_checkpoint)
    with pytest.raises(audio.AudioError, match="silent"):
        p.predict(np.zeros(16000, np.float32), 16000)


def test_missing_embedding_is_named(tiny_checkpoint):
    p = Predictor.load(tiny_checkpoint)
    with pytest.raises(ValueError, match="egemaps"):
        p.predict_embeddings({"logmel-stats": np.zeros(128, np.float32)})


def test_package_exports_predictor_without_importing_torch_eagerly():
    import subprocess
    import sys

    code = "import sys, nver_demo; assert 'torch' not in sys.modules; print(nver_demo.Predictor.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "Predictor", out.stderr
    import nver_demo

    assert nver_demo.Predictor is Predictor


def test_predict_file_reads_the_clip_as_the_app_does(tiny_checkpoint, tmp_path):
    """predict_file goes through the input gate: the silence around a recording is trimmed, as on
    the Analyze tab, so it gives what predict gives on the gate's clip, not on the raw file."""
    import soundfile as sf

    from nver_demo import clip_select

    sr = 16000
    x = np.concatenate([np.zeros(2 * sr), tone(0.6, sr, freq=990.0), np.zeros(2 * sr)]).astype(np.float32)
    path = tmp_path / "rec.wav"
    sf.write(path, x, sr)
    p = Predictor.load(tiny_checkpoint)
    clip = clip_select.read_clip(path)
    assert clip.end_s - clip.start_s < 1.0  # trimmed to the tone and its padding
    assert p.predict_file(path).probs == pytest.approx(p.predict(clip.wave, clip.sr).probs)
    with pytest.raises(audio.AudioError, match=r"^'gone\.wav' was not found"):
        p.predict_file(tmp_path / "gone.wav")
