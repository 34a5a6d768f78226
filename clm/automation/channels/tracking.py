"""Signed public links in emails: the open pixel, click redirects (only to URLs that were in the
message: the token carries the delivery and the link's position, never the URL), and the
one-click unsubscribe link."""

import html
import re

from django.conf import settings
from django.core import signing
from django.urls import reverse

OPEN, CLICK, UNSUBSCRIBE = "clm.email.open", "clm.email.click", "clm.email.unsubscribe"

# <a ... href="http(s)://..."> in HTML our own renderer produced (attribute values are quoted).
_ANCHOR = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def token(salt: str, *parts: int) -> str:
    return signing.Signer(salt=salt).sign("-".join(str(p) for p in parts))


def read(salt: str, value: str) -> list[int] | None:
    """The numbers a token carries, or None for a token CLM did not sign."""
    try:
        raw = signing.Signer(salt=salt).unsign(value)
        return [int(p) for p in raw.split("-")]
    except (signing.BadSignature, ValueError):
        return None


def absolute(path: str) -> str:
    return settings.CLM_PUBLIC_URL.rstrip("/") + path


def open_url(delivery_id: int) -> str:
    return absolute(reverse("channels:open", args=[token(OPEN, delivery_id)]))


def click_url(delivery_id: int, index: int) -> str:
    return absolute(reverse("channels:click", args=[token(CLICK, delivery_id, index)]))


def unsubscribe_url(delivery_id: int) -> str:
    return absolute(reverse("channels:unsubscribe", args=[token(UNSUBSCRIBE, delivery_id)]))


def track_links(body: str, delivery_id: int) -> tuple[str, list[str]]:
    """Rewrite each http(s) link in the HTML to a click redirect; returns the HTML and the links in
    order (the unsubscribe link is left alone: it must work even for those who block tracking)."""
    links: list[str] = []
    keep = unsubscribe_url(delivery_id)

    def replace(match):
        url = html.unescape(match.group(3))
        if url == keep:
            return match.group(0)
        links.append(url)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(click_url(delivery_id, len(links) - 1))}{quote}"

    return _ANCHOR.sub(replace, body), links


def pixel(delivery_id: int) -> str:
    return (
        f'<img src="{html.escape(open_url(delivery_id))}" width="1" height="1" alt="" style="display:none">'
    )


def before_body_end(body: str, addition: str) -> str:
    closing = body.lower().rfind("</body>")
    return body[:closing] + addition + body[closing:] if closing >= 0 else body + addition
