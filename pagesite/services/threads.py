"""Splitting a long text into a thread: parts that each fit one network.

A part ends where the text is best broken within the limit: at a paragraph,
else at a sentence, else between words (for scripts written without spaces,
such as Chinese and Japanese, between characters), and only where it fills at
least half of what fits, so no part is left nearly empty. A text is never
broken inside a link, a mention, a hashtag or a user-perceived character;
inside a single over-long word only as a last resort. Every part is counted
the network's way (``fits`` is the channel's own check), numbering included.

The parts are the text's own: each is ``text[start:end]``, and what lies
between two parts is only the white space that separated them, so the parts
joined with it give the text back.
"""

from dataclasses import dataclass

import regex

from ..errors import ValidationFailed
from ..providers.textcount import GRAPHEME, find_urls, graphemes
from . import channels
from .channels import get_channel, page_data

MAX_PARTS = 25
MAX_TEXT = 100_000  # characters sent to be split (25 parts of any network's limit, and then some)
MIN_CHARACTERS, MAX_CHARACTERS = 20, 100_000  # a limit asked for instead of a channel's

# Ranks of a place to break, best first.
PARAGRAPH, SENTENCE, WORD, BETWEEN_CHARACTERS, ANYWHERE = 4, 3, 2, 1, 0

_WHITE = regex.compile(r"\s+")
# A sentence ends in . ! ? … (or their full-width forms), perhaps followed by closing quotes or brackets.
_SENTENCE_END = regex.compile(r"[.!?…。！？．][\"'”’»)\]）」』]*$")
_FULL_STOP = regex.compile(r"[。！？]")
# Scripts written without spaces between words: a line may break between any two of their characters.
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}ー]")
_TAG = regex.compile(r"(?<![\w&])[#＃][\p{L}\p{M}\p{N}_]+")
_MENTION = regex.compile(r"(?<![\w/@])@[\w.-]*\w(?:@[\w.-]*\w)?")


@dataclass(frozen=True)
class Part:
    text: str  # what is posted: the original slice, with " 2/5" after it when numbered
    start: int  # where it comes from in the original text, in Python characters
    end: int
    characters: int  # as the network counts ``text``


def split_for(text, *, channel_id=None, max_characters=None, numbering=False):
    """``text`` as thread parts that each fit channel ``channel_id`` (as its network
    counts and checks them) or ``max_characters`` graphemes; returns (parts, limit)."""
    if channel_id is not None and max_characters is not None:
        raise ValidationFailed.single("max_characters", "Name a channel or a limit, not both.")
    if channel_id is not None:
        channel = get_channel(channel_id, field="channel_id")
        limit = channels.limits_of(channel).max_characters

        def fits(candidate):
            return not channels.limit_problems(channel, page_data(candidate, ()))

        def count(candidate):
            return channels.count_characters(channel, candidate)
    elif max_characters is not None:
        limit = max_characters

        count = graphemes

        def fits(candidate):
            return count(candidate) <= limit
    else:
        raise ValidationFailed.single("channel_id", "Name a channel (channel_id) or a limit (max_characters).")
    return split(text, fits, count, numbering=numbering), limit


def split(text, fits, count, *, numbering=False, max_parts=MAX_PARTS):
    """``text`` as a list of Parts, each of which ``fits``; ``count`` says how long a part is."""
    if not text.strip():
        raise ValidationFailed.single("text", "There is no text to split.")
    if fits(text.strip()):
        start, end = _trimmed(text, 0, len(text))
        return [Part(text[start:end], start, end, count(text[start:end]))]
    if not numbering:
        return _parts(text, fits, count, "", max_parts)
    # Numbering needs the number of parts before the parts are known: reserve
    # room for the widest label of a guessed total, and widen the guess if the
    # split needs more parts than it allowed for.
    guess = 9
    while True:
        widest = f" {guess}/{guess}"
        spans = _parts(text, fits, count, widest, max_parts)
        if len(spans) <= guess:
            break
        guess = guess * 10 + 9
    total = len(spans)
    numbered = []
    for number, part in enumerate(spans, 1):
        label = f"{part.text} {number}/{total}"
        numbered.append(Part(label, part.start, part.end, count(label)))
    return numbered


def _parts(text, fits, count, reserve, max_parts):
    breaks = _breaks(text)
    parts = []
    start = _skip_white(text, 0)
    while start < len(text):
        if len(parts) == max_parts:
            raise ValidationFailed.single("text", f"Too long for a thread of {max_parts} parts here; "
                                                  "shorten it or split it over two pages.")
        end = len(text.rstrip())
        if not fits(text[start:end] + reserve):
            end = _best_break(text, start, breaks, fits, reserve)
        parts.append(Part(text[start:end], start, end, count(text[start:end])))
        start = _skip_white(text, end)
    return parts


def _best_break(text, start, breaks, fits, reserve):
    """Where the part starting at ``start`` should end."""
    candidates = [(position, rank) for position, rank in breaks if position > start]
    # The furthest place that still fits: a part grows with its end, so search.
    low, high, furthest = 0, len(candidates) - 1, -1
    while low <= high:
        middle = (low + high) // 2
        if fits(text[start:candidates[middle][0]] + reserve):
            furthest, low = middle, middle + 1
        else:
            high = middle - 1
    if furthest < 0:
        first = candidates[0][0] if candidates else len(text)
        raise ValidationFailed.single("text", f"“{_shorten(text[start:first])}” alone is longer than a part "
                                              "may be here, and it cannot be broken.")
    reach = candidates[furthest][0]
    window = candidates[:furthest + 1]
    # The best kind of break in the second half of what fits; failing that, anything
    # better than a forced break anywhere; failing that, the furthest place there is.
    half = start + (reach - start) / 2
    in_half = [c for c in window if c[0] >= half and c[1] > ANYWHERE]
    if in_half:
        return max(in_half, key=lambda c: (c[1], c[0]))[0]
    natural = [c for c in window if c[1] > ANYWHERE]
    return (natural[-1] if natural else window[-1])[0]


def _breaks(text):
    """(position, rank) of every place the text may be broken, in order. A
    position is where a part ends (the white space after it goes to no part)."""
    protected = _protected(text)
    ranks = {}
    for match in _WHITE.finditer(text):
        position = match.start()
        if position == 0:
            continue
        if match.group().count("\n") >= 2:
            rank = PARAGRAPH
        elif _SENTENCE_END.search(text, max(0, position - 8), position):
            rank = SENTENCE
        else:
            rank = WORD
        ranks[position] = rank
    # Between user-perceived characters: at a full stop of a script without spaces,
    # between two of its characters, or (the last resort) anywhere outside a word
    # that must stay whole.
    boundaries = [m.start() for m in GRAPHEME.finditer(text)][1:]
    for position in boundaries:
        if position in ranks or protected[position] or text[position].isspace() or text[position - 1].isspace():
            continue
        before, after = text[position - 1], text[position]
        if _FULL_STOP.match(before):
            ranks[position] = SENTENCE
        elif _UNSPACED.match(before) or _UNSPACED.match(after):
            ranks[position] = BETWEEN_CHARACTERS
        else:
            ranks[position] = ANYWHERE
    return sorted(ranks.items())


def _protected(text):
    """For each position, whether breaking there would cut a link, a mention or a hashtag."""
    inside = [False] * (len(text) + 1)
    spans = list(find_urls(text))
    spans += [m.span() for m in _MENTION.finditer(text)] + [m.span() for m in _TAG.finditer(text)]
    for start, end in spans:
        for position in range(start + 1, end):
            inside[position] = True
    return inside


def _skip_white(text, position):
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _trimmed(text, start, end):
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _shorten(piece, most=40):
    return piece if len(piece) <= most else piece[:most - 1] + "…"
