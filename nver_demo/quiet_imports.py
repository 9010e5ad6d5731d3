"""Importing third-party packages that warn about their own packaging, not about our use of them.

``webrtcvad`` (installed with ``resemblyzer``, which imports it too) starts with
``import pkg_resources``, and setuptools >= 80 answers that with a ``UserWarning`` ("pkg_resources
is deprecated as an API ..."). Nothing a user of this package can act on: it is printed on every CLI
call that detects bursts or embeds with GE2E, and in the server log. The import sites wrap the
import in :func:`no_pkg_resources_warning`: that one warning ignored (matched on its message, for
the duration of the import only; any other warning still shows). Remove once webrtcvad stops
importing pkg_resources.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

PKG_RESOURCES_DEPRECATED = r"pkg_resources is deprecated as an API"


@contextlib.contextmanager
def no_pkg_resources_warning() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PKG_RESOURCES_DEPRECATED, category=UserWarning)
        yield
