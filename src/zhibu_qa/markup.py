"""Untrusted text (corpus, user input, model output) made inert for Markdown and HTML renderers.

Two strengths: `escape_md` makes every Markdown/HTML character literal (for the chat and other
rendered views); `neutralise_md` keeps text readable in a plain editor and only defuses what could
become live markup (raw HTML, links, images, code spans, GFM autolinks), for exported .md files.
Pure functions, standard library only.
"""

from __future__ import annotations

import html
import re

# CommonMark's escapable ASCII punctuation, plus ":" and "@" so that GFM autolinks (https://…, a@b.c)
# cannot start, and "$" for KaTeX
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$^:@])")
_MD_LINKS = re.compile(r"([\\`\[\]])")  # link/image brackets and code spans
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=www)(\.)|(@)")  # GFM: scheme://, www., e-mail


def escape_md(text: str) -> str:
    """Text shown literally by a Markdown renderer. Example: escape_md("1. <b>") == r"1\\. &lt;b&gt;" """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text or "", quote=False))


def neutralise_md(text: str) -> str:
    """One line of untrusted text for a Markdown document: no tags, links, images or autolinks.

    Example: neutralise_md('<img src=x>[a](http://e.cn)') == r'&lt;img src=x&gt;\\[a\\](http\\://e.cn)'
    """
    text = html.escape(" ".join((text or "").split()), quote=False)
    text = _MD_LINKS.sub(r"\\\1", text)
    return _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)


def unescape_md(text: str) -> str:
    """Inverse of `escape_md` (for a message the user edits in the chat). Example: unescape_md(r"1\\. &lt;b&gt;") == "1. <b>" """
    return html.unescape(re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>~$^:@])", r"\1", text or ""))
