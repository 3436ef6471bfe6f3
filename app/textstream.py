"""Split an answer into small pieces for streaming, without breaking a citation marker, a formula or
a word: an extractive answer is ready at once, and is shown (and sent over SSE) a few words at a time."""

from __future__ import annotations

import re

# indivisible units: [§N] markers, $$…$$ and $…$ formulas, code spans, bold marks, Latin words, one character
_ATOM = re.compile(r"\[§[^\]\n]{0,24}\]|\$\$.+?\$\$|\$[^$\n]+?\$|`[^`\n]*`|\*\*|[A-Za-z0-9.,%+\-/]+|\s+|.", re.S)


def stream_pieces(text: str, size: int = 12) -> list[str]:
    """Consecutive pieces of `text`, each about `size` characters; "".join(pieces) == text."""
    pieces, cur = [], ""
    for m in _ATOM.finditer(text or ""):
        cur += m.group(0)
        if len(cur) >= size:
            pieces.append(cur)
            cur = ""
    if cur:
        pieces.append(cur)
    return pieces
