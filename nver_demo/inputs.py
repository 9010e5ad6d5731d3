"""The input gate: every way a file enters the package passes here, so that the same file gets the
same checks and the same sentence whether it comes through Analyze, Compare, Timeline, the CLI
(``predict``, ``timeline``) or the Python API (:meth:`~nver_demo.predict.Predictor.predict_file`).

:func:`check_file` answers "is this an audio file at all?" from the path and the file's first bytes
(nothing given, not found, a folder, empty, a text file or another known non-audio container such
as ZIP, PDF, HTML or an image, whatever the extension says). :func:`decode` then decodes (soundfile,
else ffmpeg) with a sentence naming the format when nothing can; :func:`check_finite` refuses NaN
or infinite samples. Silence, "too short" and the length handling of a clip live in
:mod:`nver_demo.clip_select` (a short clip) and :mod:`nver_demo.app.bursts` (a long recording),
with sentences from here.

Every sentence names the file by its base name (what the user uploaded or typed, never the
server's temporary path): :func:`display_name`, and :func:`scrub` removes paths from third-party
text (ffmpeg's errors) before it is quoted.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import audio

#: Formats the page and the sentences name as supported.
FORMATS = "wav, mp3, flac, ogg/opus, webm, m4a"
_FORMATS_OR = "wav, mp3, flac, ogg/opus, webm or m4a"
#: Extensions that claim to be audio (a non-audio file under one of them "was renamed").
AUDIO_EXTENSIONS = {"wav", "wave", "mp3", "flac", "ogg", "oga", "opus", "webm", "m4a", "mp4", "aac",
                    "aif", "aiff", "amr", "caf", "wma", "weba", "3gp"}  # fmt: skip

_AUDIO_MAGIC = [  # (offset, bytes, format): what the file really is, whatever its extension says
    (0, b"RF64", "wav"), (0, b"fLaC", "flac"), (0, b"OggS", "ogg"), (0, b"ID3", "mp3"),
    (0, b"\x1aE\xdf\xa3", "webm"), (4, b"ftyp", "m4a"), (0, b"FORM", "aiff"), (0, b"#!AMR", "amr"),
    (0, b"caff", "caf"), (0, b"0&\xb2u\x8ef\xcf\x11", "wma"),
]  # fmt: skip
#: Containers that hold no recorded sound: (offset, bytes, what it is, in words).
_NOT_AUDIO = [
    (0, b"PK\x03\x04", "a ZIP archive"), (0, b"PK\x05\x06", "a ZIP archive"), (0, b"%PDF", "a PDF document"),
    (0, b"\x1f\x8b", "a gzip archive"), (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"), (0, b"BZh", "a bzip2 archive"), (0, b"\xfd7zXZ\x00", "an xz archive"),
    (0, b"\x89PNG", "a PNG image"), (0, b"\xff\xd8\xff", "a JPEG image"), (0, b"GIF8", "a GIF image"),
    (0, b"II*\x00", "a TIFF image"), (0, b"MM\x00*", "a TIFF image"), (0, b"\x7fELF", "a program"),
    (0, b"MZ", "a Windows program"), (0, b"\xd0\xcf\x11\xe0", "an Office document"),
    (0, b"SQLite format 3\x00", "a database"), (0, b"MThd", "a MIDI file (notes, not recorded sound)"),
]  # fmt: skip
_RIFF = {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp"}
_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s:'\"]+)+[\\/]?")


class InputError(audio.AudioError):
    """A file that cannot be analysed at all (missing, a folder, empty, not audio); an AudioError so
    every handler that shows a clip's sentence shows this one too."""


@dataclass(frozen=True)
class Source:
    """A file that passed :func:`check_file`: where it is, its name for sentences, what it holds."""

    path: Path
    name: str  # base name: the user's file name, never the server's folder
    format: str  # container from the first bytes ("wav", "mp3", ...), else the extension


def display_name(path: str | Path) -> str:
    """The name a sentence uses for a file: its base name (the name it was uploaded or given under)."""
    return Path(path).name or str(path)


def scrub(text: str, path: str | Path | None = None) -> str:
    """Third-party text with every file-system path replaced by the file's base name (or dropped):
    ffmpeg quotes the full path of its input, which on a server is a temporary folder."""
    if path is not None:
        text = text.replace(str(path), display_name(path))
    return _PATHS.sub(lambda m: Path(m.group(0).rstrip("/\\")).name or "", text)


def nothing() -> InputError:
    return InputError("Nothing to analyse yet: record a sound with the microphone or upload an audio file.")


def sniff(path: str | Path) -> str:
    """What a file really holds, from its first bytes: an audio container (``"wav"``, ``"mp3"``...),
    ``"text"``, ``"empty"``, ``"unknown"``, or a non-audio container in words (``"a ZIP archive"``)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "empty"
    if head[:4] == b"RIFF":
        return _RIFF.get(head[8:12], "wav")
    for offset, magic, fmt in _AUDIO_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    for offset, magic, what in _NOT_AUDIO:
        if head[offset : offset + len(magic)] == magic:
            return what
    if head[0] == 0xFF and len(head) > 1 and head[1] & 0xE0 == 0xE0:
        return "mp3" if head[1] & 0x06 else "aac"  # MPEG audio frame sync (layer bits 0 = ADTS AAC)
    text = _as_text(head)
    if text is None:
        return "unknown"
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    return "text"


def _as_text(head: bytes) -> str | None:
    enc = "utf-8"
    for bom, code in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head, enc = head[len(bom) :], code
            break
    try:
        text = head.decode(enc)
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the end of the 512 bytes
            return None
        text = head[: e.start].decode(enc)
    return text if all(c.isprintable() or c.isspace() for c in text) else None


def is_audio_format(kind: str) -> bool:
    return kind not in {"empty", "text", "unknown", "webp"} and not kind.startswith(("a ", "an "))


def check_file(path: str | Path | None) -> Source:
    """The file as a :class:`Source`, or :class:`InputError` with a sentence: nothing given, not
    found, a folder, empty, a text file, or another container that holds no sound."""
    if path is None or str(path) == "":
        raise nothing()
    path = Path(path)
    name = display_name(path)
    if path.is_dir():
        raise InputError(f"'{name}' is a folder, not an audio file: choose one of the files in it.")
    if not path.exists():
        raise InputError(f"'{name}' was not found: check the path, or upload the file again.")
    try:
        kind = sniff(path)
    except OSError as e:
        raise InputError(f"'{name}' cannot be read ({e.strerror or type(e).__name__}).") from e
    if kind == "empty":
        raise InputError(f"'{name}' is empty (0 bytes): there is no sound in it.")
    ext = path.suffix.lower().lstrip(".")
    renamed = f" (renaming a file to .{ext} does not make it a sound)" if ext in AUDIO_EXTENSIONS else ""
    if kind == "text":
        raise InputError(
            f"'{name}' is a text file, not audio{renamed}. Choose a {_FORMATS_OR} recording instead."
        )
    if kind == "webp":
        kind = "a WebP image"
    if not is_audio_format(kind) and kind != "unknown":
        raise InputError(f"'{name}' is {kind}, not audio{renamed}. Choose a {_FORMATS_OR} recording instead.")
    return Source(path, name, kind if kind != "unknown" else (ext or "unknown"))


def decode_error(src: Source, detail: str, no_ffmpeg: bool = False) -> audio.AudioError:
    """The sentence for a file nothing could decode (the same from :func:`decode` and the
    timeline's streaming decoder)."""
    if no_ffmpeg:
        return audio.AudioError(
            f"Could not decode '{src.name}' as {src.format} audio: it is not wav, flac, ogg/opus or mp3, "
            "and ffmpeg (needed for webm, m4a and other formats) is not installed."
        )
    detail = scrub(detail, src.path).strip()
    return audio.AudioError(
        f"Could not decode '{src.name}' as {src.format} audio: the file looks corrupt or uses a codec "
        f"that cannot be read here{f' ({detail})' if detail else ''}."
    )


def decode(src: Source, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """(samples, sample rate) of the start of a checked file (:func:`audio.load`), or the
    :func:`decode_error` sentence."""
    try:
        return audio.load(src.path, max_seconds=max_seconds)
    except audio.AudioError as e:
        raise decode_error(src, "" if shutil.which("ffmpeg") is None else str(e.__context__ or ""),
                           no_ffmpeg=shutil.which("ffmpeg") is None) from e  # fmt: skip


def check_finite(x: np.ndarray, sr: int, name: str, offset_s: float = 0.0) -> None:
    """Refuse samples that are NaN or infinite (a corrupt export) with a sentence saying where the
    first one is; ``offset_s`` is where ``x`` starts in the file (a streamed block)."""
    bad = ~np.isfinite(x)
    if bad.any():
        first = offset_s + int(np.argmax(bad.reshape(len(x), -1).any(axis=1))) / sr
        raise audio.AudioError(
            f"'{name}' contains invalid samples (NaN or infinity), the first at {first:.2f} s: the file "
            "looks corrupt. Please record or export it again."
        )


def too_short(name: str, seconds: float) -> audio.AudioError:
    return audio.AudioError(
        f"'{name}' is only {seconds * 1000:.0f} ms long; at least {audio.MIN_DURATION_S * 1000:.0f} ms "
        "of sound is needed."
    )


def silent(name: str, level_dbfs: float, detail: str = "") -> audio.AudioError:
    return audio.AudioError(
        f"'{name}' is silent: its level is {level_dbfs:.0f} dBFS, below the {audio.SILENCE_DBFS:.0f} dBFS "
        f"silence threshold{detail}. Check the microphone or pick a louder recording."
    )
