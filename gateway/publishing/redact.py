"""Make a driver's free-text detail safe to publish on the retained status topic.

Reader and camera drivers describe their state in words meant for a log ("connection refused",
"reader status 0x0504 ...", "cannot open: rtsp://admin:secret@10.0.0.7/stream?token=..."), and
a log is read by fewer people than a broker's retained status topic.  Before such a detail goes
out, :func:`safe_detail` removes what must never be published:

* credentials and query strings in URLs (``scheme://user:pass@host:port/path?query`` keeps only
  ``scheme://host:port``), and ``password=``/``token=``/``secret=``/``key=`` style assignments;
* identifiers: any word with six digits or more (EPCs in hex, GTINs, SSCCs, serials, MRNs, EORIs,
  phone numbers) and e-mail addresses;
* control characters, and anything past :data:`MAX_DETAIL` characters.

Short numbers stay (ports, status codes, delays, attempt counts), so the detail remains useful.

>>> safe_detail("cannot open: rtsp://admin:s3cret@10.0.0.7:554/cam1?token=abc")
'cannot open: rtsp://10.0.0.7:554'
>>> safe_detail("tag 3034257BF7194E4000001A85 rejected, SSCC 340123450000000017")
'tag [id] rejected, SSCC [id]'
>>> safe_detail("reader status 0x0504 TEMPERATURE: too hot; restarting in 1.5s (password=hunter2)")
'reader status 0x0504 TEMPERATURE: too hot; restarting in 1.5s (password=[redacted])'
"""

from __future__ import annotations

import re

MAX_DETAIL = 160

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^\s/@]*@)?([^\s/?#@]+)[^\s]*")
_SECRET = re.compile(r"(?i)\b(pass(?:word|wd)?|pwd|token|secret|api[_-]?key|key|auth\w*)(\s*[=:]\s*)([^\s,;)]+)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# A word (letters, digits, and the separators of element strings) holding six digits or more.
_IDENTIFIER = re.compile(r"[\w()\-.:/+]*\d[\w()\-.:/+]*")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _identifier(match: re.Match[str]) -> str:
    word = match.group(0)
    if sum(c.isdigit() for c in word) < 6:
        return word
    if _IPV4.fullmatch(word.split("://", 1)[-1].strip("()")):
        return word  # an IPv4 address (with port): where the reader is, not what it read
    return "[id]"


def safe_detail(text: str | None) -> str | None:
    """``text`` without credentials, identifiers or control characters; ``None`` stays ``None``."""
    if text is None:
        return None
    out = _CONTROL.sub(" ", str(text))
    out = _URL.sub(lambda m: f"{m.group(1)}://{m.group(2)}", out)
    out = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", out)
    out = _EMAIL.sub("[email]", out)
    out = _IDENTIFIER.sub(_identifier, out)
    out = " ".join(out.split())
    return out if len(out) <= MAX_DETAIL else out[:MAX_DETAIL - 1] + "…"
