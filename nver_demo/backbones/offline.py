"""Placeholder: filled in by the core-pipeline work."""
