"""NVER demo: non-verbal vocal emotion recognition with fused audio foundation models.

``nver_demo.Predictor.load(name_or_path)`` is the entry point for inference; the registries are
``nver_demo.backbones`` and ``nver_demo.heads``. Importing the package itself stays cheap (torch is
imported on first use of ``Predictor``), so the app starts fast. ``nver_demo.configure_threads()`` sizes torch's and the BLAS thread
pools for concurrent model runs (``nver_demo/threads.py``); the app and the CLI call it at start-up.
"""

__version__ = "0.1.0"
__all__ = ["Prediction", "Predictor", "configure_threads"]


def __getattr__(name: str):
    if name == "configure_threads":
        from .threads import configure_threads

        return configure_threads
    if name in __all__:
        from . import predict

        return getattr(predict, name)
    raise AttributeError(f"module 'nver_demo' has no attribute {name!r}")
