"""Making user-supplied text safe for Slack: mrkdwn escaping and length limits."""

from __future__ import annotations

ELLIPSIS = "…"


def escape(text: str) -> str:
    """Escape &, < and > so user text cannot become a mention, a link or <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def code(text: str) -> str:
    """Inline code for user text: escaped, and without backticks that would end it early."""
    return "`" + escape(text.replace("`", "'")) + "`"


def fit_escaped(text: str, limit: int) -> str:
    """Escape, then fit, without cutting an entity such as &amp; in half."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for char in text:
        piece = escape(char)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + ELLIPSIS
