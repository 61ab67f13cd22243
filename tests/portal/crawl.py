"""Every portal URL reachable from the front page by following links (pages and downloads)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

PAGES = ["overview", "cameras", "usage", "audit", "policy"]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))


def links(html: str) -> tuple[list[str], set[str]]:
    """The hrefs of a page's links and the ids its elements carry."""
    parser = _Links()
    parser.feed(html)
    return parser.hrefs, parser.ids


def crawl(fetch: Callable[[str], tuple[int, str, str]], start: str = "/portal") -> dict[str, int]:
    """Path → status for every same-site URL linked from ``start`` onwards.

    ``fetch(path)`` returns (status, content type, body). Only HTML is followed.
    """
    seen: dict[str, int] = {}
    queue = [start]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        status, kind, body = fetch(path)
        seen[path] = status
        if status != 200 or not kind.startswith("text/html"):
            continue
        hrefs, ids = links(body)
        for href in hrefs:
            target, fragment = urldefrag(urljoin(path, href))
            parts = urlsplit(target)
            assert not parts.netloc, f"{path} links off the site: {href}"
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if fragment and target == path:
                assert fragment in ids, f"{path} links to a missing #{fragment}"
            queue.append(target)
    return seen
