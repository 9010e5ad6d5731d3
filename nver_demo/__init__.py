"""NVER demo: non-verbal vocal emotion recognition with fused audio foundation models."""

__version__ = "0.1.0"
