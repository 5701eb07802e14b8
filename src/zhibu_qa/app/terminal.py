"""Terminal-safe text: what the CLI writes never carries escape sequences or control characters.

A question, a document title or a file name could otherwise recolour, clear or retitle the terminal
(or hide text). Tabs, newlines and carriage returns (tqdm redraws with them) are kept.
"""

from __future__ import annotations

import re

# C0 controls except tab/newline/carriage return (tqdm redraws with \r), DEL and C1 controls (incl. CSI)
_CONTROL = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


def clean_terminal_text(text: str) -> str:
    """Drop terminal escape sequences and control characters (tabs and newlines stay).

    Example: clean_terminal_text("\x1b[31m红\x1b[0m\x07") == "红"
    """
    return _CONTROL.sub("", text)


class CleanStream:
    """A text stream wrapper that strips control characters from everything written."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(clean_terminal_text(text))

    def __getattr__(self, name):
        return getattr(self._stream, name)
