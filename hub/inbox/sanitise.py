"""HTML from outside, made safe once at ingest with bleach (invariant 4).

One parse per message does all the work: the DOM is built with bleach's own parser,
pruned (script, style and friends go with their content; quoted history is cut for the
conversation view; ``data:`` images become inline attachments), read for plain text
(full and trimmed), then walked through bleach's sanitizer and serialised.

What the result guarantees: no script, no event handlers, no forms or frames, CSS only
from an allow-list and never with ``url()``; links open in a new tab without a referrer;
remote images are blocked by default: their address moves to ``data-remote-src`` and the
staff app may put it back after someone consents. ``cid:`` images keep their ``src`` so
the app can point them at the stored inline attachment (``Attachment.content_id``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import html
import re
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from bleach import html5lib_shim
from bleach.css_sanitizer import CSSSanitizer
from bleach.sanitizer import BleachSanitizerFilter, Cleaner

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small",
    "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "u", "ul",
})
# parsed so they can be removed with everything inside them
DROP_WITH_CONTENT = frozenset({
    "script", "style", "head", "title", "noscript", "template", "iframe", "object",
    "embed", "svg", "math", "frame", "frameset", "applet", "audio", "video", "canvas",
    "select", "textarea", "option", "button", "form", "input", "link", "meta", "base",
})
_CELL = ["align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"]
ALLOWED_ATTRIBUTES: dict[str, list[str]] = {
    "*": ["style", "title", "dir", "lang", "align"],
    "a": ["href", "title", "name"],
    "img": ["src", "alt", "width", "height"],
    "td": _CELL, "th": _CELL, "tr": ["align", "valign", "bgcolor"],
    "table": ["width", "border", "cellpadding", "cellspacing", "bgcolor"],
    "col": ["width", "span"], "colgroup": ["width", "span"],
    "font": ["color", "face", "size"], "ol": ["start", "type"],
}
PROTOCOLS = frozenset({"http", "https", "mailto", "tel", "cid"})
CSS_PROPERTIES = frozenset({
    "background-color", "border", "border-bottom", "border-collapse", "border-color",
    "border-left", "border-right", "border-spacing", "border-style", "border-top",
    "border-width", "color", "direction", "display", "font", "font-family", "font-size",
    "font-style", "font-variant", "font-weight", "height", "letter-spacing", "line-height",
    "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right",
    "margin-top", "max-width", "padding", "padding-bottom", "padding-left",
    "padding-right", "padding-top", "text-align", "text-decoration", "text-indent",
    "text-transform", "vertical-align", "white-space", "width", "word-break",
})
BLOCK_TAGS = frozenset({
    "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote",
    "pre", "hr", "dd", "dt", "ul", "ol", "center", "caption",
})
# an inline data: image bigger than this is dropped from the HTML (and said so)
MAX_DATA_IMAGE_BYTES = 5 * 1024 * 1024
_DATA_IMAGE = re.compile(r"data:(image/[a-z0-9.+-]+);base64,(.*)", re.I | re.S)
_CSS_DANGER = re.compile(r"url\s*\(|expression\s*\(|\\|javascript:|@import", re.I)
# deeper nesting than this is flattened before parsing (see ``limit_depth``)
MAX_DEPTH = 800
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)\b[^<>]*?(/?)>")
# tags that never or often do not close do not count towards depth
_VOID_OR_UNCLOSED = frozenset({
    "br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source",
    "track", "embed", "param", "p", "li", "td", "th", "tr", "dt", "dd", "option", "tbody",
    "thead", "tfoot", "colgroup",
})
_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_BLANKS = re.compile(r"\n{3,}")


@dataclasses.dataclass
class InlineImage:
    """An image that was embedded as ``data:`` in the HTML, now an inline attachment."""

    content_id: str
    content_type: str
    data: bytes


@dataclasses.dataclass
class CleanHtml:
    html: str  # sanitised, quoted history trimmed
    text: str  # plain text of the trimmed HTML
    full_text: str  # plain text of the whole HTML
    images: list[InlineImage]
    # what had to go and would otherwise vanish silently (oversized data: images)
    dropped: list[str]


class _SafeCss(CSSSanitizer):
    """bleach's CSS sanitizer, and no declaration that could load or run anything."""

    def sanitize_css(self, style: str) -> str:
        kept = [d for d in style.split(";") if d.strip() and not _CSS_DANGER.search(d)]
        return str(super().sanitize_css(";".join(kept)))


class _LinksAndImages(html5lib_shim.Filter):
    """After sanitising: safe link targets, and remote images held back until consent."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag"):
                attrs = token["data"]
                if token["name"] == "a" and (None, "href") in attrs:
                    attrs[(None, "target")] = "_blank"
                    attrs[(None, "rel")] = "noopener noreferrer nofollow"
                elif token["name"] == "img":
                    _hold_back_remote(attrs)
            yield token


def _hold_back_remote(attrs: dict[tuple[str | None, str], str]) -> None:
    src = html.unescape(attrs.get((None, "src"), "")).strip()
    if src.lower().startswith(("http:", "https:", "//")):
        del attrs[(None, "src")]
        attrs[(None, "data-remote-src")] = src


class MailCleaner(Cleaner):
    """A bleach ``Cleaner`` whose parse and render are separate, with pruning between."""

    def __init__(self) -> None:
        super().__init__(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                         protocols=PROTOCOLS, strip=True, strip_comments=True,
                         css_sanitizer=_SafeCss(allowed_css_properties=CSS_PROPERTIES),
                         filters=[_LinksAndImages])
        self.parser = html5lib_shim.BleachHTMLParser(
            tags=ALLOWED_TAGS | DROP_WITH_CONTENT, strip=True, consume_entities=False,
            namespaceHTMLElements=False)

    def parse(self, text: str) -> Element:
        return self.parser.parseFragment(text)

    def render(self, dom: Element) -> str:
        stream = BleachSanitizerFilter(
            source=self.walker(dom), allowed_tags=self.tags, attributes=self.attributes,
            strip_disallowed_tags=True, strip_html_comments=True,
            css_sanitizer=self.css_sanitizer, allowed_protocols=self.protocols)
        for filter_class in self.filters:
            stream = filter_class(source=stream)
        return str(self.serializer.render(stream)).strip()


@functools.cache
def _cleaner() -> MailCleaner:
    # built once per process: the parser tables are costly; not thread-safe, and the
    # poller is single-threaded (a process pool gets one per process)
    return MailCleaner()


def clean_html(markup: str, *, trim: bool = True) -> CleanHtml:
    """Sanitise ``markup``; with ``trim``, cut quoted history for the conversation view."""
    cleaner = _cleaner()
    markup = limit_depth(markup)
    dom = cleaner.parse(markup)
    _drop_dangerous(dom)
    images, dropped = _extract_data_images(dom)
    full_text = dom_text(dom)
    if trim and _trim_quotes(dom):
        text = dom_text(dom)
        if not text.strip():  # everything was quote (a forward): keep it all
            dom = cleaner.parse(markup)
            _drop_dangerous(dom)
            _extract_data_images(dom)
            text = full_text
    else:
        text = full_text
    return CleanHtml(html=cleaner.render(dom), text=text, full_text=full_text,
                     images=images, dropped=dropped)


def limit_depth(markup: str, max_depth: int = MAX_DEPTH) -> str:
    """Drop tags nested deeper than ``max_depth``: the HTML parser's time grows with the
    square of the depth, so a mail of 50,000 nested divs would stall the poller. Real
    mail never nests that deep; the text inside is kept."""
    if markup.count("<") < max_depth:
        return markup
    out: list[str] = []
    depth = skipped = position = 0
    for match in _TAG.finditer(markup):
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name in _VOID_OR_UNCLOSED or match.group(3):
            continue
        if closing:
            if skipped:
                skipped -= 1
                out.append(markup[position:match.start()])
                position = match.end()
            else:
                depth = max(depth - 1, 0)
        elif depth >= max_depth:
            skipped += 1
            out.append(markup[position:match.start()])
            position = match.end()
        else:
            depth += 1
    out.append(markup[position:])
    return "".join(out)


def _parents(dom: Element) -> dict[Element, Element]:
    return {child: parent for parent in dom.iter() for child in parent}


def _remove(element: Element, parent: Element) -> None:
    """Remove ``element`` with its subtree; the text after it stays in place."""
    if element.tail:
        index = list(parent).index(element)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _drop_dangerous(dom: Element) -> None:
    parents = _parents(dom)
    for element in [e for e in dom.iter() if _tag(e) in DROP_WITH_CONTENT]:
        parent = parents.get(element)
        if parent is not None and element in list(parent):
            _remove(element, parent)


def _tag(element: Element) -> str:
    """The local tag name (``svg`` and ``math`` children carry a namespace)."""
    return element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""


def _extract_data_images(dom: Element) -> tuple[list[InlineImage], list[str]]:
    images: list[InlineImage] = []
    dropped: list[str] = []
    for element in dom.iter("img"):
        match = _DATA_IMAGE.match(html.unescape(element.get("src", "")).strip())
        if match is None:
            continue
        image = _decode_data_image(match.group(1).lower(), match.group(2))
        if image is None:
            dropped.append(f"inline image ({match.group(1)}) too large or damaged")
            element.attrib.pop("src", None)
            continue
        images.append(image)
        element.set("src", f"cid:{image.content_id}")
    return images, dropped


def _decode_data_image(content_type: str, encoded: str) -> InlineImage | None:
    if len(encoded) > MAX_DATA_IMAGE_BYTES * 4 // 3 + 8:
        return None
    try:
        data = base64.b64decode(re.sub(r"\s+", "", encoded), validate=False)
    except (binascii.Error, ValueError):
        return None
    digest = hashlib.sha256(data).hexdigest()
    return InlineImage(f"data-{digest[:24]}@zorghub.invalid", content_type, data)


# Markers of quoted history written by common mail programs. A "subtree" marker is the
# quote itself; a "from here" marker starts the quote, which runs to the end.
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote")
_FROM_HERE_IDS = ("appendonsend", "divrplyfwdmsg", "mail-editor-reference-message-container",
                  "stopspelling")
_HEADER_START = re.compile(r"^\s*(from|van|von|de)\s*:", re.I)


def _is_quote(element: Element) -> bool:
    tag = _tag(element)
    if tag == "blockquote" and element.get("type", "").lower() == "cite":
        return True
    classes = element.get("class", "").lower()
    return tag == "div" and any(name in classes for name in _QUOTE_CLASSES)


def _starts_quote(element: Element) -> bool:
    if element.get("id", "").lower() in _FROM_HERE_IDS:
        return True
    style = element.get("style", "").replace(" ", "").lower()
    # Outlook desktop: a top-bordered div whose text starts with "Van:"/"From:"
    return (_tag(element) == "div" and "border-top:solid" in style
            and bool(_HEADER_START.match("".join(element.itertext()))))


def _trim_quotes(dom: Element) -> bool:
    """Cut quoted history out of ``dom`` in place; True when something was cut."""
    parents = _parents(dom)
    for element in dom.iter():
        if _starts_quote(element):
            _cut_from(element, parents)
            _trim_quotes(dom)
            return True
    quotes = [e for e in dom.iter() if _is_quote(e)]
    for element in quotes:
        parent = parents.get(element)
        if parent is not None and element in list(parent):
            _remove(element, parent)
    return bool(quotes)


def _cut_from(marker: Element, parents: dict[Element, Element]) -> None:
    """Remove ``marker`` and everything after it in document order."""
    node = marker
    while node in parents:
        parent = parents[node]
        children = list(parent)
        for later in children[children.index(node) + 1:]:
            parent.remove(later)
        node.tail = None
        if node is marker:
            parent.remove(node)
        node = parent


def dom_text(dom: Element) -> str:
    """Readable plain text of a parsed fragment (blocks become lines; entities decoded)."""
    out: list[str] = []
    for kind, element in _walk(dom):
        tag = _tag(element)
        if kind == "start":
            if tag == "br" or tag in BLOCK_TAGS:
                out.append("\n")
            if element.text and isinstance(element.tag, str):
                out.append(_text_of(element.text, tag))
        else:
            if tag in BLOCK_TAGS:
                out.append("\n")
            if element.tail:
                out.append(_SPACE.sub(" ", element.tail))
    return _tidy(html.unescape("".join(out)))


def _walk(root: Element) -> Iterator[tuple[str, Element]]:
    """Depth-first start/end events without recursion (mail can nest thousands deep)."""
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        element, done = stack.pop()
        if done:
            if element is not root:
                yield "end", element
            continue
        yield "start", element
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(element))


def _text_of(text: str, tag: str) -> str:
    return text if tag == "pre" else _SPACE.sub(" ", text)


def _tidy(text: str) -> str:
    lines = [line.strip() for line in text.replace("\xa0", " ").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
