"""A cap on the total size of Gradio's upload cache, on top of the app's hourly clean.

Gradio writes every upload (and every file the app hands back, such as a burst to listen to) under
``$GRADIO_TEMP_DIR`` (default ``<tmp>/gradio``), one folder per file. ``delete_cache=(3600, 3600)``
removes files older than an hour, once an hour; between two cleans nothing bounds the folder (one
probe of the running app grew it by 222 MiB). This module bounds it.

Configuration (environment, read when the first cache is made):

``NVER_UPLOAD_CACHE_MB``
    Cap on the total size of the folder, in MiB (default 2048; ``0`` turns the cap off). An
    upload is already on disk when a handler sees it, so the folder can pass the cap by at most
    the uploads arriving at once (each at most the app's ``max_file_size``) until the next check.

Policy. When the folder is over the cap, files are deleted oldest first (by the time they arrived
in the cache, their ``ctime``, as Gradio's own clean) until it fits, never deleting a file:

- in use: a running request holds its upload (``with admit(path): ...``);
- kept by the app for its lifetime (example clips, component defaults: Gradio's
  ``keep_in_cache``, registered by :func:`attach`);
- younger than :data:`GRACE_S` seconds (just uploaded: its request may not have started yet).

When the folder still does not fit, :func:`admit` refuses the new upload with
:class:`UploadRefused` (a sentence asking to try again shortly; an upload larger than the whole cap
is told so) and deletes it. Call ``admit(path)`` in a handler before decoding an upload;
:func:`attach` also starts a thread that applies the cap every :data:`SWEEP_S` seconds, since
Gradio stores a file as soon as it is dropped on the page, before any handler runs.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import audio, inputs

log = logging.getLogger(__name__)

ENV_CAP = "NVER_UPLOAD_CACHE_MB"
DEFAULT_CAP_MB = 2048
#: Files younger than this (seconds) are never evicted: their request may be about to read them.
GRACE_S = 60.0
#: Seconds between two sweeps of the thread :func:`attach` starts.
SWEEP_S = 30.0
MIB = 1024 * 1024


class UploadRefused(audio.AudioError):
    """An upload the cache cannot keep; an AudioError so every handler shows its sentence."""


def cache_dir() -> Path:
    """Gradio's upload folder, as ``gradio.utils.get_upload_folder`` computes it."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def cap_from_env() -> int | None:
    """The cap in bytes from ``$NVER_UPLOAD_CACHE_MB`` (None: no cap)."""
    raw = os.environ.get(ENV_CAP, "").strip()
    try:
        mib = float(raw) if raw else DEFAULT_CAP_MB
    except ValueError as e:
        raise ValueError(f"{ENV_CAP} must be a number of MiB (0 = no cap), got {raw!r}") from e
    if mib < 0:
        raise ValueError(f"{ENV_CAP} must be a number of MiB (0 = no cap), got {raw!r}")
    return int(mib * MIB) if mib else None


@dataclass
class Sweep:
    """What one pass over the folder found and did."""

    total: int  # bytes in the folder after the pass
    removed: list[Path] = field(default_factory=list)  # oldest first
    freed: int = 0


@dataclass
class _Entry:
    path: Path
    size: int
    arrived: float  # ctime


class Admission:
    """Returned by :meth:`UploadCache.admit`; as a context manager it holds the file (in use: never
    evicted) until the block ends."""

    def __init__(self, cache: UploadCache, path: Path | None) -> None:
        self.cache, self.path = cache, path

    def __enter__(self) -> Admission:
        if self.path is not None:
            self.cache.hold(self.path)
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            self.cache.release(self.path)


class UploadCache:
    """The cap on one folder. ``protect`` returns paths never to evict (called at each sweep)."""

    def __init__(
        self,
        root: str | Path | None = None,
        cap: int | None = None,
        *,
        grace_s: float = GRACE_S,
        protect: Iterable[Callable[[], Iterable[str | Path]]] = (),
    ) -> None:
        self.root = Path(root).resolve() if root is not None else cache_dir()
        self.cap = cap
        self.grace_s = grace_s
        self.protect = list(protect)
        self._held: Counter[Path] = Counter()
        self._lock = threading.Lock()
        # The folder's size as of the last sweep plus what was admitted since: a request under the
        # cap skips the walk over the folder (thousands of files); a sweep refreshes it.
        self._estimate: tuple[int, float] | None = None  # (bytes, when measured)

    # --- in use ---

    def hold(self, path: str | Path) -> None:
        with self._lock:
            self._held[Path(path).resolve()] += 1

    def release(self, path: str | Path) -> None:
        with self._lock:
            p = Path(path).resolve()
            self._held[p] -= 1
            if self._held[p] <= 0:
                del self._held[p]

    # --- the cap ---

    def contains(self, path: str | Path) -> bool:
        return Path(path).resolve().is_relative_to(self.root)

    def _entries(self) -> list[_Entry]:
        out = []
        for dirpath, _, names in os.walk(self.root):
            for n in names:
                p = Path(dirpath, n)
                try:
                    st = p.lstat()
                except FileNotFoundError:  # deleted meanwhile (Gradio's clean, another sweep)
                    continue
                out.append(_Entry(p, st.st_size, st.st_ctime))
        return out

    def _protected(self) -> set[Path]:
        keep = set(self._held)
        for provider in self.protect:
            keep.update(Path(p).resolve() for p in provider())
        return keep

    def sweep(self, keep: Iterable[str | Path] = ()) -> Sweep:
        """Delete the oldest evictable files until the folder fits under the cap."""
        with self._lock:
            entries = self._entries()
            total = sum(e.size for e in entries)
            self._estimate = (total, time.monotonic())
            if self.cap is None or total <= self.cap:
                return Sweep(total)
            never = self._protected() | {Path(p).resolve() for p in keep}
            young = time.time() - self.grace_s
            result = Sweep(total)
            for e in sorted(entries, key=lambda e: e.arrived):
                if result.total <= self.cap:
                    break
                if e.arrived > young or e.path.resolve() in never:
                    continue
                if _remove(e.path, self.root):
                    result.total -= e.size
                    result.freed += e.size
                    result.removed.append(e.path)
            self._estimate = (result.total, time.monotonic())
        if result.removed:
            log.info("upload cache over %d MiB: removed %d file(s), %.1f MiB, oldest first",
                     self.cap // MIB, len(result.removed), result.freed / MIB)  # fmt: skip
        return result

    def admit(self, path: str | Path | None) -> Admission:
        """Make room for an upload (oldest first) or refuse it with :class:`UploadRefused`.
        A path outside the cache (the CLI, the app's examples) or None is let through unchecked."""
        if path is None or str(path) == "" or not self.contains(path) or not Path(path).is_file():
            return Admission(self, None)
        p = Path(path).resolve()
        name = inputs.display_name(p)
        if self.cap is not None:
            size = p.stat().st_size
            if size > self.cap:
                _remove(p, self.root)
                raise UploadRefused(
                    f"'{name}' is {_size(size)}, more than this server keeps for all uploads together "
                    f"({_size(self.cap)}). Upload a shorter recording, or the same sound as mp3 or ogg "
                    "(about ten times smaller than wav)."
                )
            if self._fits(size):  # the last sweep left room for it: no walk over the folder
                return Admission(self, p)
            result = self.sweep(keep=[p])
            if result.total > self.cap:
                _remove(p, self.root)
                raise UploadRefused(
                    f"The server's upload space is full right now ({_size(result.total)} of "
                    f"{_size(self.cap)}, in use by other visitors' files), so '{name}' could not be kept. "
                    "Please try again in a minute or two."
                )
        return Admission(self, p)

    def _fits(self, size: int) -> bool:
        """Whether the folder, as measured by a sweep less than :data:`SWEEP_S` ago plus what was
        admitted since (the upload itself included), stays under the cap; counts it in if so."""
        with self._lock:
            if self._estimate is None or time.monotonic() - self._estimate[1] > SWEEP_S:
                return False
            total = self._estimate[0] + size
            if total > self.cap:
                return False
            self._estimate = (total, self._estimate[1])
            return True


def _size(n: int) -> str:
    if n >= 10 * MIB:
        return f"{n / MIB:.0f} MB"
    return f"{n / MIB:.1f} MB" if n >= MIB // 10 else f"{n / 1024:.0f} KB"


def _remove(path: Path, root: Path) -> bool:
    """Delete a file and its folder when that is left empty (Gradio: one folder per file)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as e:
        log.warning("upload cache: could not remove %s: %s", path.name, e)
        return False
    parent = path.parent
    if parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:  # not empty (another file of the same folder), or gone: leave it
            log.debug("upload cache: kept folder %s", parent.name)
    return True


# --- the app's cache ------------------------------------------------------------------------------

_default: UploadCache | None = None
_default_lock = threading.Lock()
_sweeper: threading.Thread | None = None


def default() -> UploadCache:
    """The process's cache on Gradio's upload folder, capped by ``$NVER_UPLOAD_CACHE_MB``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = UploadCache(cache_dir(), cap_from_env())
        return _default


def admit(path: str | Path | None) -> Admission:
    """:meth:`UploadCache.admit` on the app's cache: call before decoding an upload, as
    ``with upload_cache.admit(path): ...`` to hold it while the request reads it."""
    return default().admit(path)


def attach(demo) -> UploadCache:
    """Protect the files a Gradio app keeps for its lifetime (examples, defaults) and start the
    sweeping thread (once per process)."""
    global _sweeper
    cache = default()

    def kept() -> set[str]:
        return {p for block in demo.blocks.values() for p in getattr(block, "keep_in_cache", ())}

    cache.protect.append(kept)
    with _default_lock:
        if _sweeper is None and cache.cap is not None:
            _sweeper = threading.Thread(
                target=_sweep_forever, args=(cache,), name="upload-cache", daemon=True
            )
            _sweeper.start()
    return cache


def _sweep_forever(cache: UploadCache) -> None:
    while True:
        time.sleep(SWEEP_S)
        try:
            cache.sweep()
        except OSError as e:  # a full or vanished disk must not end the thread
            log.warning("upload cache sweep failed: %s", e)
