"""Crash and log analysis.

The sub-packages ``analysis.parsers`` and ``analysis.rules`` are plain Python (no Django import);
the rest of this package is the Django app that runs them on uploads.
"""
