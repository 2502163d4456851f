"""What log tools put in front of each kernel message: journalctl, syslog, dmesg times, printk caller ids.

References: journalctl(1) output modes (short, short-iso, short-precise), rsyslog's default template,
dmesg(1) (-T, raw `<N>` levels), printk's CONFIG_PRINTK_CALLER (`[T123]` / `[C2]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

# Outermost first; each is removed at most once, in this order.
_JOURNAL_ISO = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?\s+\S+\s+kernel:\s?"
)
# journalctl short / syslog: "Mar 10 13:31:02 host kernel:", localised months ("sept.", "3月") included;
# rsyslog may add a facility ("kern.err kernel:").
_JOURNAL = re.compile(
    r"^\S{2,6}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+\S+\s+(?:[a-z]+\.[a-z]+\s+)?kernel:\s?", re.I
)
# Go-style log stamps of test harnesses ("2018/01/09 14:28:48 BUG: ...").
_HARNESS = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? ")
_DMESG_WALL = re.compile(
    r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\]\s?"
)
_PRIORITY = re.compile(r"^<\d{1,2}>")
_UPTIME = re.compile(r"^\[\s*(\d+\.\d+)\]\s?")
_CALLER = re.compile(r"^\[\s*[TC]\d+\]\s?")
_BARE_KERNEL = re.compile(r"^kernel:\s?")


@dataclass
class Line:
    text: str
    uptime: str | None
    iso_time: str | None
    wall: str | None


def strip_prefixes(raw: str) -> Line:
    """The message of one log line and the times its prefixes gave."""
    text = _PRIORITY.sub("", raw.strip())
    uptime = iso_time = wall = None
    match = _JOURNAL_ISO.match(text)
    if match:
        iso_time = _iso(match.group(1), match.group(2), match.group(3))
        wall = f"{match.group(1)} {match.group(2)}{match.group(3) or ''}"
        text = text[match.end() :]
    else:
        match = _JOURNAL.match(text)
        if match:
            wall = " ".join(match.group(0).split()[:3])
            text = text[match.end() :]
    text = _HARNESS.sub("", text)
    text = _BARE_KERNEL.sub("", text)
    text = _PRIORITY.sub("", text)
    match = _DMESG_WALL.match(text)
    if match:
        wall = wall or match.group(0).strip()[1:-1]
        text = text[match.end() :]
    match = _UPTIME.match(text)
    if match:
        uptime = match.group(1)
        text = text[match.end() :]
    text = _CALLER.sub("", text)
    return Line(text=text, uptime=uptime, iso_time=iso_time, wall=wall)


def _iso(day: str, clock: str, zone: str | None) -> str | None:
    if zone is None:
        return None  # a local time without its zone is not a UTC instant
    stamp = f"{day}T{clock}{'+00:00' if zone == 'Z' else zone}"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
