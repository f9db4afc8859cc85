"""Splitting a long text into a thread (POST /api/threads/split): every part
fits the channel as its network counts it, breaks fall at paragraphs, then
sentences, then words (then characters in scripts without spaces), never
inside a link, a mention, a hashtag or a character, and the parts give the
text back."""

import pytest
import regex

LINK = "https://example.org/articles/2026/12/a-rather-long-address-for-an-article-about-threads?utm=none"
MENTION = "@alice@social.example"
HASHTAG = "#OpenSocialWeb"


def graphemes(text):
    return len(regex.findall(r"\X", text))


def add_channel(app, provider, limits):
    from pagesite.extensions import db
    from pagesite.models import Channel

    with app.app_context():
        channel = Channel(provider=provider, name=f"My {provider}", settings={}, account={"handle": "me"},
                          limits=limits)
        db.session.add(channel)
        db.session.commit()
        return channel.id


@pytest.fixture
def bluesky(app):
    from pagesite.providers.bluesky import BlueskyProvider

    return add_channel(app, "bluesky", BlueskyProvider.default_limits().to_dict())


@pytest.fixture
def mastodon(app):
    from pagesite.providers.mastodon import MastodonProvider

    return add_channel(app, "mastodon", MastodonProvider.default_limits().to_dict())


def split(client, **body):
    response = client.post("/api/threads/split", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_gives_the_text_back(text, parts, numbered=False):
    """Each part is its slice of the text (plus its number); only white space lies between parts."""
    position = 0
    for number, part in enumerate(parts, 1):
        piece = text[part["start"]:part["end"]]
        expected = f"{piece} {number}/{len(parts)}" if numbered else piece
        assert part["text"] == expected
        assert text[position:part["start"]].strip() == "", (position, part)
        assert piece == piece.strip() and piece
        position = part["end"]
    assert text[position:].strip() == ""


def long_text():
    paragraphs = [
        "Threads let a longer thought unfold post by post. " * 3 + f"Read more at {LINK} when you can.",
        f"Thanks to {MENTION} for the idea and to everyone using {HASHTAG} for the feedback. " * 2,
        "Emoji count as one character each: 👨‍👩‍👧‍👦 🇺🇦 👍🏽 and so does é written with an accent. " * 3,
        "名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で泣いていた事だけは記憶している。" * 3,
        "The end.",
    ]
    return "\n\n".join(paragraphs)


@pytest.mark.parametrize("network", ["bluesky", "mastodon"])
def test_every_part_fits_the_channel_and_the_parts_give_the_text_back(client, request, network):
    channel_id = request.getfixturevalue(network)
    text = long_text()
    result = split(client, text=text, channel_id=channel_id)
    limit = 300 if network == "bluesky" else 500
    assert result["max_characters"] == limit
    parts = result["parts"]
    assert len(parts) >= 2
    assert_gives_the_text_back(text, parts)
    for part in parts:
        assert part["characters"] <= limit
        # Never inside a link, a mention, a hashtag or a character.
        for whole in (LINK, MENTION, HASHTAG, "👨‍👩‍👧‍👦", "🇺🇦", "👍🏽"):
            assert not _cuts(text, part, whole)
    if network == "bluesky":  # graphemes, each link in full
        assert all(p["characters"] == graphemes(p["text"]) for p in parts)
    else:  # a link counts 23, a mention of another instance its @name only
        with_link = next(p for p in parts if LINK in p["text"])
        domains = with_link["text"].count(MENTION) * len("@social.example")
        assert with_link["characters"] == graphemes(with_link["text"]) - graphemes(LINK) + 23 - domains


def _cuts(text, part, whole):
    """Whether the part begins or ends inside an occurrence of ``whole``."""
    for match in regex.finditer(regex.escape(whole), text):
        start, end = match.span()
        if start < part["start"] < end or start < part["end"] < end:
            return True
    return False


def test_paragraphs_win_over_sentences_and_sentences_over_words(client):
    first = "A first paragraph that is fairly short but not tiny at all, really."  # 67
    second = "Then a second one. It has two sentences and keeps going for a while longer than the first."
    text = f"{first}\n\n{second}"
    parts = split(client, text=text, max_characters=120)["parts"]
    assert [p["text"] for p in parts] == [first, second]

    text = "One sentence that runs for a while, on and on. Another that also runs on for quite a while here."
    parts = split(client, text=text, max_characters=60)["parts"]
    assert parts[0]["text"] == "One sentence that runs for a while, on and on."

    text = "word " * 40
    parts = split(client, text=text, max_characters=50)["parts"]
    assert all(p["text"].split(" ") == ["word"] * len(p["text"].split(" ")) for p in parts)  # whole words only
    assert all(p["characters"] > 25 for p in parts[:-1])  # each fills at least half of what fits


def test_scripts_without_spaces_break_at_full_stops_then_between_characters(client):
    sentence = "吾輩は猫である。"
    text = sentence * 12  # 96 characters, no spaces
    parts = split(client, text=text, max_characters=30)["parts"]
    assert_gives_the_text_back(text, parts)
    assert all(p["text"].endswith("。") for p in parts)  # at full stops, when one is in reach
    text = "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している" * 2
    parts = split(client, text=text, max_characters=25)["parts"]
    assert_gives_the_text_back(text, parts)
    assert [p["characters"] for p in parts[:-1]] == [25] * (len(parts) - 1)


def test_numbering_is_counted_in_each_part(client, bluesky):
    text = long_text()
    parts = split(client, text=text, channel_id=bluesky, numbering=True)["parts"]
    assert_gives_the_text_back(text, parts, numbered=True)
    assert all(p["characters"] <= 300 and p["characters"] == graphemes(p["text"]) for p in parts)

    # Ten parts or more: every part leaves room for a two-digit total.
    text = " ".join(f"Sentence number {n} of a long list of sentences." for n in range(30))
    parts = split(client, text=text, max_characters=100, numbering=True)["parts"]
    assert len(parts) >= 10
    assert_gives_the_text_back(text, parts, numbered=True)
    assert all(p["characters"] <= 100 for p in parts)


def test_a_text_that_fits_is_one_part_without_a_number(client, mastodon):
    parts = split(client, text="  Short and sweet.  ", channel_id=mastodon, numbering=True)["parts"]
    assert parts == [{"text": "Short and sweet.", "characters": 16, "start": 2, "end": 18}]


def test_bluesky_bytes_count_too(client, bluesky):
    family = "👨‍👩‍👧‍👦"  # one character, 25 bytes: 300 of them are far over Bluesky's 3,000 bytes
    text = " ".join([family] * 200)
    parts = split(client, text=text, channel_id=bluesky)["parts"]
    assert all(len(p["text"].encode()) <= 3000 for p in parts)
    assert len(parts) >= 2 and sum(p["text"].count(family) for p in parts) == 200


@pytest.mark.parametrize("body, field, words", [
    ({"text": "x"}, "channel_id", "Name a channel"),
    ({"text": "x", "channel_id": 1, "max_characters": 100}, "max_characters", "not both"),
    ({"text": "x", "channel_id": 999}, "channel_id", "No channel with id 999"),
    ({"text": "   ", "max_characters": 100}, "text", ""),
    ({"text": "x", "max_characters": 5}, "max_characters", ""),
    ({"text": "word " * 2000, "max_characters": 20}, "text", "25 parts"),
    ({"text": f"See {LINK}", "max_characters": 40}, "text", "cannot be broken"),
])
def test_what_cannot_be_split_is_a_problem_naming_the_field(client, body, field, words):
    response = client.post("/api/threads/split", json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    problem = response.get_json()
    assert field in problem["errors"], problem
    assert words in " ".join(problem["errors"][field])
