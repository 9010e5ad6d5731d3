"""Find the vocal bursts in a long recording, streaming: decode in blocks, never the whole file.

Detection is voice-activity detection (WebRTC VAD, the GMM detector Chrome uses, installed with
resemblyzer) combined with frame energy against an adaptive noise floor, with hysteresis: a burst
starts on a voiced frame at least :attr:`DetectorConfig.start_db` above the floor and continues
while frames stay :attr:`~DetectorConfig.stop_db` above it (and within
:attr:`~DetectorConfig.stop_below_peak_db` of the burst's loudest frame: in a silent room a faint
tail 60 dB down is not part of what anyone hears). Gaps shorter than
:attr:`~DetectorConfig.merge_gap_s` are merged, blips shorter than
:attr:`~DetectorConfig.min_burst_s` dropped, and a burst longer than
:attr:`~DetectorConfig.max_burst_s` is cut into pieces (the models know 0.5-2 s bursts).

Memory is bounded by the longest burst, not the recording: :class:`BurstDetector` keeps only the
audio of the burst it is in (plus a short pre-roll) and hands each burst out as soon as it ends.
Decoding streams too (:func:`stream`): soundfile blocks for wav/flac/ogg/mp3, an ``ffmpeg`` pipe
for other containers, resampled to 16 kHz on the fly.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio, inputs
from ..quiet_imports import no_pkg_resources_warning

SAMPLE_RATE = 16000
#: Longest recording accepted (seconds).
MAX_RECORDING_S = 30 * 60
FRAME = 480  # 30 ms at 16 kHz: a WebRTC VAD frame
HOLD_FRAMES = 10  # 0.3 s: the level a held burst is judged on (DetectorConfig.hold_db)


@dataclass(frozen=True)
class DetectorConfig:
    start_db: float = 10.0  # a burst starts this far above the noise floor...
    start_frames: int = 3  # ...on this many voiced frames in a row (90 ms: not a click or a gust)
    stop_db: float = 6.0  # ...and lasts while frames stay this far above it
    stop_below_peak_db: float = 30.0  # ...and no more than this far below the burst's loudest frame
    # ...or, once the floor has risen under it, while it stays this close to its own median level:
    # the sound filled the floor's window (steady noise, a hum, music), it did not end.
    hold_db: float = 2.5
    hold_s: float = 3.0  # ...for this long at most (then the floor rules again)
    min_level_dbfs: float = -55.0  # never start below this absolute level
    merge_gap_s: float = 0.35  # shorter pauses do not split a burst
    min_burst_s: float = 0.2  # shorter blips are dropped
    max_burst_s: float = 8.0  # longer stretches are cut into pieces
    pad_s: float = 0.05  # margin of a burst's start and end around its loud frames
    # Sound handed to the classifier before and after each burst: EmoGator's clips (what the models
    # learnt from) have about 0.5 s of quiet before and 0.2 s after the sound, and pooling sees it.
    context_s: float = 0.25
    # Noise floor: a low percentile of the last few seconds' frame levels (minimum statistics), so it
    # follows a background that changes (a fan switched on) within one window; it falls at once.
    floor_window_s: float = 8.0
    floor_percentile: float = 20.0  # bursts fill well under 80 % of any 8 s
    vad_aggressiveness: int = 2  # WebRTC VAD: 0 (lenient) to 3 (strict)


@dataclass
class Burst:
    """One detected burst: where it is in the recording and its sound (mono float32, 16 kHz)."""

    start: float  # seconds: where the sound is
    end: float
    wave: np.ndarray  # the sound with a little context around it (what the classifier sees)
    level_dbfs: float
    wave_start: float  # where ``wave`` starts in the recording (seconds)

    @property
    def duration(self) -> float:
        return self.end - self.start


class BurstDetector:
    """Online detector: :meth:`feed` blocks of 16-kHz mono samples, get bursts as they end;
    :meth:`flush` at the end of the recording."""

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        with no_pkg_resources_warning():  # webrtcvad imports pkg_resources (see quiet_imports)
            import webrtcvad

        self.c = config
        self.vad = webrtcvad.Vad(config.vad_aggressiveness)
        self.floor: float | None = None  # noise floor, dBFS
        self.history: deque[float] = deque(maxlen=max(10, round(config.floor_window_s * SAMPLE_RATE / FRAME)))
        self.pos = 0  # frames seen
        self.tail = np.zeros(0, np.float32)  # samples not yet a whole frame
        self.pad = round(config.pad_s * SAMPLE_RATE / FRAME)
        self.keep = round(max(config.pad_s, config.context_s) * SAMPLE_RATE / FRAME) + 1  # pre-roll frames
        self.frames: list[np.ndarray] = []  # audio from buf_start on
        self.buf_start = 0  # frame index of frames[0]
        self.active: int | None = None  # first frame of the current burst
        self.last_loud = -1  # last frame above the stop threshold in the current burst
        self.levels: list[float] = []
        self.peak = -120.0  # loudest frame of the current burst, dBFS
        self.start_floor = np.inf  # the floor when the current burst (not a piece after a cut) began
        self.held_from: int | None = None  # first frame the burst was held past a risen floor
        self.run: list[float] = []  # levels of the voiced loud frames in a row before a burst starts
        self.samples = 0  # samples fed, and their summed energy: the recording's length and level
        self.energy = 0.0

    def feed(self, block: np.ndarray) -> list[Burst]:
        block = np.asarray(block, np.float32)
        self.samples += len(block)
        self.energy += float(np.sum(np.square(block, dtype=np.float64)))
        x = np.concatenate([self.tail, block])
        n = len(x) // FRAME
        self.tail = x[n * FRAME :]
        if n == 0:
            return []
        frames = x[: n * FRAME].reshape(n, FRAME)
        db = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)
        if self.floor is None:
            self.floor = max(float(np.percentile(db, 10)), -90.0)
        pcm = (np.clip(frames, -1, 1) * 32767).astype("<i2")
        out = []
        for i in range(n):
            out += self._step(frames[i], float(db[i]), pcm[i])
        return out

    def _step(self, frame: np.ndarray, db: float, pcm: np.ndarray) -> list[Burst]:
        c, t = self.c, self.pos
        self.pos += 1
        self.frames.append(frame)
        self.history.append(db)
        if t % 10 == 0 and len(self.history) >= 34:  # every 0.3 s, once a second is in the window
            self.floor = float(np.percentile(self.history, c.floor_percentile))
        self.floor = max(min(self.floor, db), -90.0)
        above = db - self.floor
        out: list[Burst] = []
        if self.active is None:
            loud = above >= c.start_db and db >= c.min_level_dbfs
            if loud and self.vad.is_speech(pcm.tobytes(), SAMPLE_RATE):
                self.run.append(db)
                if len(self.run) >= c.start_frames:
                    self.active, self.last_loud = t - len(self.run) + 1, t
                    self.levels, self.peak, self.run = list(self.run), max(self.run), []
                    self.start_floor, self.held_from = self.floor, None
                return out
            self.run = []
            keep = self.keep + c.start_frames
            if len(self.frames) > keep:  # idle: keep only the pre-roll
                drop = len(self.frames) - keep
                del self.frames[:drop]
                self.buf_start += drop
            return out
        self.peak = max(self.peak, db)
        # A floor that rose under the burst means the sound filled the floor's window, not that it
        # ended: closing there would cut a fraction of a second out of a steady sound, too short for
        # the signal checks to call it noise or music (docs/trust.md). Held while it stays at its
        # own level above the floor it started on (first piece only: a cut resets start_floor).
        loud = above >= c.stop_db or self._held(t, db)
        if loud and db >= self.peak - c.stop_below_peak_db:
            self.last_loud = t
            self.levels.append(db)
        gap = (t - self.last_loud) * FRAME / SAMPLE_RATE
        length = (t - self.active + 1) * FRAME / SAMPLE_RATE
        if gap > c.merge_gap_s:
            out += self._close(self.last_loud)
        elif length >= c.max_burst_s:
            out += self._close(t, cut=True)
        return out

    def _held(self, t: int, db: float) -> bool:
        """Whether a frame no longer above the floor still belongs to the burst: the floor rose
        under it (by ``stop_db`` at least) while its last 0.3 s stay within ``hold_db`` of its
        median level, for at most ``hold_s`` (then the floor rules again: a fan switched on during
        a burst does not swallow the laughs that follow)."""
        c = self.c
        if self.floor - self.start_floor < c.stop_db:
            return False
        self.held_from = t if self.held_from is None else self.held_from
        if (t - self.held_from) * FRAME / SAMPLE_RATE > c.hold_s:
            return False
        # the last 0.3 s, not one frame (its level wanders by dBs in pink noise); a deque's ends index in O(1)
        recent = [self.history[-k] for k in range(1, min(HOLD_FRAMES, len(self.history)) + 1)]
        return power_mean_db(recent) >= np.median(self.levels) - c.hold_db

    def _close(self, last: int, cut: bool = False) -> list[Burst]:
        """End the current burst at frame ``last`` (inclusive); emit it unless it is a blip."""
        c, first = self.c, self.active
        out = []
        if (last + 1 - first) * FRAME / SAMPLE_RATE >= c.min_burst_s and self.levels:
            ctx, pad = (0, 0) if cut else (self.keep - 1, self.pad)
            lo, hi = max(self.buf_start, first - ctx), min(self.pos, last + 1 + ctx)
            wave = np.concatenate(self.frames[lo - self.buf_start : hi - self.buf_start])
            start, end = max(0, first - pad), min(self.pos, last + 1 + pad)
            level = power_mean_db(self.levels)
            out.append(Burst(start * FRAME / SAMPLE_RATE, end * FRAME / SAMPLE_RATE, wave, level,
                             lo * FRAME / SAMPLE_RATE))  # fmt: skip
        # A cut burst goes on from the next frame (against the floor as it is now); otherwise idle.
        self.active, self.levels, self.start_floor = (self.pos if cut else None), [], np.inf
        self.last_loud = self.pos - 1 if cut else -1
        keep_from = self.pos - self.keep
        if keep_from > self.buf_start:
            del self.frames[: keep_from - self.buf_start]
            self.buf_start = keep_from
        return out

    def flush(self) -> list[Burst]:
        """End of the recording: close the burst in progress."""
        if self.active is None:
            return []
        return self._close(self.last_loud)


def power_mean_db(levels_db) -> float:
    """The level (dB) of frames of these levels together: the mean of their powers."""
    return float(10 * np.log10(np.mean(np.power(10.0, np.asarray(levels_db) / 10))))


def detect(wave: np.ndarray, sr: int, config: DetectorConfig = DetectorConfig()) -> list[Burst]:
    """All bursts of a recording already in memory (any dtype, rate, channels)."""
    x = audio.prepare(wave, sr, SAMPLE_RATE)
    d = BurstDetector(config)
    return d.feed(x) + d.flush()


# --- streaming decode -----------------------------------------------------------------------------


def duration(path: str | Path) -> float | None:
    """Length in seconds from the file's header (soundfile, else ffprobe), or None when unknown."""
    import soundfile as sf

    try:
        return float(sf.info(str(path)).duration)
    except Exception:  # not a soundfile format: ask ffprobe below
        pass
    if shutil.which("ffprobe") is None:
        return None
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        return float(out) if out and out != "N/A" else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


def check_length(seconds: float | None, name: str = "The recording") -> None:
    if seconds is not None and seconds > MAX_RECORDING_S + 0.5:
        m, s = divmod(round(seconds), 60)
        raise audio.AudioError(
            f"{name} is {m}:{s:02d} min long; the timeline takes recordings of up to "
            f"{MAX_RECORDING_S // 60} minutes. Cut it into parts (for example with "
            f"`ffmpeg -i in -f segment -segment_time 1800 part%d.wav`) and run each."
        )


def stream(path: str | Path, block_s: float = 10.0) -> Iterator[np.ndarray]:
    """Mono float32 blocks at 16 kHz, about ``block_s`` seconds each, decoded as they are needed.
    Raises :class:`audio.AudioError` for a file nothing can decode, or one longer than the limit
    (also when its header does not say how long it is: counted while decoding)."""
    import soxr

    seen = 0
    rs: soxr.ResampleStream | None = None
    for block, sr in _raw_blocks(Path(path), block_s):
        x = audio.to_mono(audio.to_float(block))
        inputs.check_finite(x, sr, inputs.display_name(path), offset_s=seen / sr)  # the gate's sentence
        seen += len(x)
        check_length(seen / sr)
        if sr == SAMPLE_RATE:
            yield x
            continue
        rs = rs or soxr.ResampleStream(sr, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        yield rs.resample_chunk(x)
    if rs is not None:
        yield rs.resample_chunk(np.zeros(0, np.float32), last=True)


def _raw_blocks(path: Path, block_s: float) -> Iterator[tuple[np.ndarray, int]]:
    import soundfile as sf

    try:
        f = sf.SoundFile(path)
    except Exception as e:  # not a soundfile format (webm, m4a...): ffmpeg below
        first = e
    else:
        with f:
            size = max(FRAME, int(block_s * f.samplerate))
            for block in f.blocks(blocksize=size, dtype="float32", always_2d=True):
                yield block, int(f.samplerate)
        return
    if shutil.which("ffmpeg") is None:
        raise inputs.decode_error(_source(path), "", no_ffmpeg=True) from first
    yield from _ffmpeg_blocks(path, block_s)


def _source(path: Path) -> inputs.Source:
    """The file as the gate names it, for a decoding error's sentence."""
    try:
        return inputs.check_file(path)
    except inputs.InputError:  # gone or changed since it was checked: still name the file
        return inputs.Source(path, inputs.display_name(path), path.suffix.lstrip(".") or "unknown")


def _ffmpeg_blocks(path: Path, block_s: float) -> Iterator[tuple[np.ndarray, int]]:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1",
           "-ar", str(SAMPLE_RATE), "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    size = 4 * int(block_s * SAMPLE_RATE)
    got = 0
    try:
        while chunk := proc.stdout.read(size):
            got += len(chunk)
            yield np.frombuffer(chunk[: len(chunk) // 4 * 4], "<f4").astype(np.float32), SAMPLE_RATE
    finally:
        proc.stdout.close()
        proc.kill() if proc.poll() is None else None
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        proc.wait()
    if got == 0:
        last = err.splitlines()[-1] if err else "no audio stream found"
        raise inputs.decode_error(_source(path), last)


def detect_file(
    path: str | Path,
    config: DetectorConfig = DetectorConfig(),
    progress: Callable[[float, float], None] | None = None,
    detector: BurstDetector | None = None,
) -> Iterator[Burst]:
    """Bursts of an audio file, yielded as they are found. ``progress(done_s, total_s)`` is called
    after each decoded block (``total_s`` is 0 when the header gives no length). Pass a
    ``detector`` to read the recording's length and level from it afterwards."""
    total = duration(path)
    check_length(total)
    d = detector or BurstDetector(config)
    done = 0.0
    for block in stream(path):
        yield from d.feed(block)
        done += len(block) / SAMPLE_RATE
        if progress is not None:
            progress(done, total or 0.0)
    yield from d.flush()
