"""What the Gradio app (``app.py``) calls: which models exist (catalog), running them on a clip
(service), reading the clip (clips), and turning results into figures and text (report, plots).
Nothing here trains; nothing in :mod:`nver_demo.training` is imported from here."""
