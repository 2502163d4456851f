"""How the analysis pages write numbers for people, in the active language."""

from __future__ import annotations

from django.utils.translation import gettext as _


def duration(seconds: float | None) -> str:
    """How long a job ran, in the active language: "240 ms" and "4.2 s" below a minute (where most
    analyses end), then m:ss or h:mm:ss."""
    if seconds is None:
        return ""
    if seconds < 1:
        return _("%(ms)d ms") % {"ms": round(seconds * 1000)}
    if seconds < 59.95:  # what rounds to 60.0 s reads 1:00
        return _("%(seconds)s s") % {"seconds": f"{seconds:.1f}"}
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
