"""Bytes to text the way real mail needs it: declared charsets are often wrong or unknown.

Order of trust: the declared charset (through an alias table for names Python does not
know, and with the WHATWG rule that latin-1 and ascii labels mean windows-1252), then
UTF-8, then windows-1252, and as the very last resort UTF-8 with replacement characters.
Nothing here raises on any input.
"""

from __future__ import annotations

import codecs
import re

# Names seen in real mail that Python does not know, or where a superset decodes more.
_ALIASES = {
    "unknown-8bit": None, "x-unknown": None, "unknown": None, "x-user-defined": None,
    "default": None, "charset": None,
    "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman", "utf8": "utf-8", "unicode-1-1-utf-7": "utf-7",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949", "shift_jis": "cp932", "x-sjis": "cp932", "big5": "big5hkscs",
    "iso-2022-jp": "iso2022_jp_ext", "tis-620": "cp874", "cp-850": "cp850",
}
# single-byte Western labels under which senders often send UTF-8 by mistake
_WESTERN = {"cp1252", "iso8859-15", "iso8859_15", "latin_1", "ascii"}
# how the parser smuggles raw 8-bit header bytes through a str
_SURROGATE = re.compile("[\udc80-\udcff]")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""",
                           re.I)


def codec_for(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def sniff_html_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def decode_text(data: bytes, charset: str | None, *, html: bool = False) -> str:
    """Decode ``data`` sent with ``charset`` (possibly wrong, unknown or missing)."""
    if html and not charset:
        charset = sniff_html_charset(data)
    declared = codec_for(charset)
    if declared in _WESTERN and _is_utf8_with_multibyte(data):
        declared = "utf-8"
    for candidate in (declared, "utf-8", "cp1252"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("utf-8", errors="replace")


def _is_utf8_with_multibyte(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def fix_8bit_header(value: str) -> str:
    """Raw 8-bit bytes in a header (smuggled in as surrogates by the parser) as text."""
    if not _SURROGATE.search(value):
        return value
    raw = value.encode("ascii", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
