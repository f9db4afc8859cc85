"""Counting and finding things in post text the way the networks do.

Both Mastodon and Bluesky count user-perceived characters (extended grapheme
clusters, Unicode UAX #29): a flag or a family emoji is one character, as is
"é" written as "e" plus a combining accent. The ``regex`` module's ``\\X``
matches exactly one such cluster.
"""

import regex

GRAPHEME = regex.compile(r"\X")

# A link as both networks' composers find it: a scheme, then anything up to
# white space; trailing punctuation that ends a sentence is not part of it.
URL = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
_URL_TRAILING = ".,;:!?'\"”’»"


def graphemes(text):
    """How many user-perceived characters ``text`` holds."""
    return sum(1 for _ in GRAPHEME.finditer(text))


def find_urls(text):
    """(start, end) character spans of the links in ``text``."""
    spans = []
    for match in URL.finditer(text):
        start, end = match.span()
        while end > start and (text[end - 1] in _URL_TRAILING
                               or (text[end - 1] == ")" and text.count("(", start, end) < text.count(")", start, end))):
            end -= 1
        if end - start > len("https://"):
            spans.append((start, end))
    return spans


def utf8_offset(text, index):
    """The UTF-8 byte offset of character ``index`` of ``text`` (what AT Protocol facets use)."""
    return len(text[:index].encode("utf-8"))
