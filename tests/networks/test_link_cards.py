"""Link cards: read from real pages on a local web server (tests/card_server.py) through the
outbound rules, and posted to the real PDS as ``app.bsky.embed.external`` with the picture as a blob."""

import io

import pytest
from PIL import Image

from card_server import CardServer
from networks.conftest import attachment, image_bytes
from networks.test_bluesky import connected
from pagesite.models import new_idempotency_key
from pagesite.providers import link_cards
from pagesite.providers.base import PageData


@pytest.fixture
def cards():
    with CardServer() as server:
        yield server


# -- what a page says of itself ----------------------------------------------------------------------


def test_open_graph_comes_first_and_is_tidied():
    title, description, picture = link_cards.parse(
        '<head><title>T</title><meta property="og:title" content="Caf&eacute; &amp; more">'
        '<meta name="twitter:title" content="no"><meta property="og:description" content=" a\n  b ">'
        '<meta property="og:image" content="/i/p.png"></head>', "https://blog.example/posts/1")
    assert (title, description, picture) == ("Café & more", "a b", "https://blog.example/i/p.png")


def test_twitter_tags_then_the_title_and_description_stand_in():
    assert link_cards.parse('<meta name="twitter:title" content="Tw"><meta name="twitter:image" content="x.jpg">',
                            "https://a.example/d/page") == ("Tw", "", "https://a.example/d/x.jpg")
    assert link_cards.parse("<title> Plain\n title </title><meta name=description content='Words'>",
                            "https://a.example/") == ("Plain title", "Words", None)


def test_a_picture_that_is_no_web_address_and_overlong_texts_are_not_kept():
    title, description, picture = link_cards.parse(
        f'<meta property="og:title" content="{"t" * 500}"><meta property="og:description" content="{"d" * 2000}">'
        '<meta property="og:image" content="javascript:alert(1)">', "https://a.example/")
    assert picture is None
    assert len(title) == link_cards.MAX_TITLE and title.endswith("…")
    assert len(description) == link_cards.MAX_DESCRIPTION


# -- reading a page ----------------------------------------------------------------------------------------


def test_a_page_with_open_graph_gives_its_card_and_picture(cards):
    card = link_cards.read(f"{cards.url}/article", timeout=5)
    assert card.title == "Crème brûlée, the long way & the short"
    assert card.description == "Three hours, one torch."
    assert card.picture_url == f"{cards.url}/picture.png" and card.picture == cards.small
    assert card.picture_type == "image/png" and card.picture_problem is None
    assert card.to_dict() == {"url": f"{cards.url}/article", "title": card.title, "description": card.description,
                              "image_url": f"{cards.url}/picture.png"}


@pytest.mark.parametrize("path, reason", [
    ("/huge", "answered with more than 2 MB without stopping"),
    ("/report.pdf", "answered with application/pdf, not a web page"),
    ("/bare", "has no title or description to show"),
    ("/gone", "answered 404 NOT FOUND"),
    ("/to-private", "10.1.2.3"),
])
def test_a_page_that_cannot_give_a_card_says_why(cards, path, reason):
    with pytest.raises(link_cards.NoCard) as no_card:
        link_cards.read(cards.url + path, timeout=5)
    assert reason in str(no_card.value)


def test_a_private_address_is_refused_before_anything_is_sent():
    with pytest.raises(link_cards.NoCard) as no_card:
        link_cards.read("http://10.20.30.40/admin", timeout=5)
    assert "PAGESITE_ALLOWED_PRIVATE_ADDRESSES" in str(no_card.value)


def test_a_page_slower_than_the_time_limit_gives_no_card(cards):
    with pytest.raises(link_cards.NoCard) as no_card:
        link_cards.read(f"{cards.url}/slow", timeout=0.5)
    assert "did not answer within 0.5 s" in str(no_card.value)


def test_a_picture_that_is_no_image_leaves_the_card_without_one(cards):
    card = link_cards.read(f"{cards.url}/broken-picture", timeout=5)
    assert card.title.startswith("Crème") and card.picture is None
    assert card.picture_problem == f"{cards.url}/not-a-picture is not an image."
    assert card.to_dict()["image_url"] is None


# -- on Bluesky ----------------------------------------------------------------------------------------------


def _publish(provider, text, *attachments, link_card=True):
    page = PageData(id=1, text=text, attachments=tuple(attachments), link_card=link_card)
    return provider.publish(page, new_idempotency_key(), schedule_id=1, attempt=1)


def _record(pds, author, result):
    return pds.get_record(author.did, result.url.rsplit("/", 1)[1])["value"]


def test_the_first_link_gets_a_card_with_title_description_and_picture_on_the_pds(pds, cards):
    author = pds.create_account()
    provider = connected(pds, author)
    text = f"Dessert tonight: {cards.url}/article and also {cards.url}/plain"
    result = _publish(provider, text)

    embed = _record(pds, author, result)["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    external = embed["external"]
    assert external["uri"] == f"{cards.url}/article"  # the first link only
    assert external["title"] == "Crème brûlée, the long way & the short"
    assert external["description"] == "Three hours, one torch."
    picture = pds.get_blob(author.did, external["thumb"]["ref"]["$link"])
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "JPEG" and image.size == (1200, 630)  # re-encoded: no metadata rides along
    assert external["thumb"]["mimeType"] == "image/jpeg" and external["thumb"]["size"] == len(picture)
    assert cards.served("/plain") == []
    assert result.notes == (f"Link card: “Crème brûlée, the long way & the short” (127.0.0.1).",)


def test_a_picture_over_bluesky_limits_is_reencoded_to_fit(pds, cards):
    assert len(cards.large) > 1_000_000
    author = pds.create_account()
    result = _publish(connected(pds, author), f"Look {cards.url}/large")
    thumb = _record(pds, author, result)["embed"]["external"]["thumb"]
    picture = pds.get_blob(author.did, thumb["ref"]["$link"])
    assert len(picture) <= 1_000_000 and thumb["size"] == len(picture)
    with Image.open(io.BytesIO(picture)) as image:
        assert max(image.size) <= 2000 and image.size[0] / image.size[1] == pytest.approx(2.4, rel=0.01)


def test_a_page_that_cannot_be_read_publishes_without_a_card_and_says_why(pds, cards):
    author = pds.create_account()
    result = _publish(connected(pds, author), f"Too big: {cards.url}/huge")
    assert "embed" not in _record(pds, author, result)
    assert result.notes == (f"No link card for {cards.url}/huge: 127.0.0.1 answered with more than 2 MB "
                            "without stopping.",)


def test_no_card_when_the_page_turns_it_off_or_carries_images(pds, cards):
    author = pds.create_account()
    provider = connected(pds, author)
    off = _publish(provider, f"Plain link {cards.url}/article", link_card=False)
    assert "embed" not in _record(pds, author, off) and off.notes == ()

    picture = attachment(image_bytes(300, 200), "A blue box", "box.png")
    with_image = _publish(provider, f"With a photo {cards.url}/article", picture)
    assert _record(pds, author, with_image)["embed"]["$type"] == "app.bsky.embed.images"
    assert cards.served("/article") == []  # neither page was read at all
