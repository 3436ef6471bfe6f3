"""Text that reaches the web page: Markdown made safe to render, and literal text escaped.

Everything the chat shows passes through here: the question (`literal`), answers and section
Markdown (`safe_markdown`). Raw HTML is escaped except a few bare formatting tags the corpus uses
(`<u>` in tables, `<mark>` for highlights); links and images whose URL has a scheme other than
http/https/mailto (`javascript:`, `data:`, `vbscript:` …) are rendered as plain text; `<` and `>`
inside `$…$` become KaTeX's `\\lt`/`\\gt`. Code spans and fenced code are left alone: Markdown
shows them literally. The browser's sanitiser and the Content-Security-Policy are further layers;
this one does not rely on them.
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = ("u", "mark", "sup", "sub", "br")
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# code spans, display math, inline math: kept apart from the HTML and link rules
_PROTECTED = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)|(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$[^$\n]+?(?<!\\)\$",
                        re.S)
_TAG_OR_LT = re.compile(r"<(/?)(" + "|".join(ALLOWED_TAGS) + r")\s*/?>|<", re.I)
_LINK_DEST = re.compile(r"(\]\()(\s*)(<[^>\n]*>|[^\s)]*)")
_REF_DEF = re.compile(r"^( {0,3})(\[[^\]\n]+\]:[ \t]*)(\S+)", re.M)
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff\\]")
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~$<>&])")
_LINE_START = re.compile(r"^([ \t]*\d*)([#+=\-](?!\d)|(?<=\d)[.)])", re.M)


def unsafe_url(url: str) -> bool:
    """True when a link target would run code or load something other than a web page:
    any scheme except http, https and mailto, however it is spelled (entities, tabs, escapes)."""
    u = _INVISIBLE.sub("", html.unescape(html.unescape(url))).strip("<>")
    m = _SCHEME.match(u)
    return bool(m) and m.group(1).lower() not in SAFE_SCHEMES


def literal(text: str) -> str:
    """Markdown that renders exactly `text`: no HTML, no links, no emphasis, no math."""
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), _MD_PUNCT.sub(r"\\\1", text or ""))


def _escape_tags(s: str) -> str:
    def repl(m: re.Match) -> str:
        if m.group(2):
            return f"<{m.group(1)}{m.group(2).lower()}>"
        return "&lt;"
    return _TAG_OR_LT.sub(repl, s)


def _defuse_links(s: str) -> str:
    s = s.replace("![", "!\\[")  # no images: they would load from anywhere
    s = _LINK_DEST.sub(lambda m: (m.group(1) if not unsafe_url(m.group(3)) else "]\\(") + m.group(2) + m.group(3), s)
    return _REF_DEF.sub(lambda m: m.group(0) if not unsafe_url(m.group(3)) else f"{m.group(1)}\\{m.group(2)}{m.group(3)}", s)


def _text(s: str) -> str:
    return _escape_tags(_defuse_links(s))


def _math(s: str) -> str:
    return s.replace("<", r"\lt ").replace(">", r"\gt ")


def _inline(s: str) -> str:
    out, pos = [], 0
    for m in _PROTECTED.finditer(s):
        out.append(_text(s[pos:m.start()]))
        out.append(m.group(0) if m.group(1) else _math(m.group(0)))
        pos = m.end()
    out.append(_text(s[pos:]))
    return "".join(out)


def safe_markdown(text: str) -> str:
    """Markdown (corpus sections, answers, LLM output) made safe to render in the page."""
    out: list[str] = []
    block: list[str] = []
    fence: str | None = None
    for line in (text or "").split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            if block:
                out.append(_inline("\n".join(block)))
            block, fence = [], m.group(1)
            out.append(line.replace("<", "&lt;"))  # the info string is not code
        elif fence is not None:
            out.append(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):]:
                fence = None
        else:
            block.append(line)
    if fence is not None:  # an unclosed fence: everything after it is code
        out.append(fence)
    if block:
        out.append(_inline("\n".join(block)))
    return "\n".join(out)
