"""Every shape of the JSON API, declared once.

Request bodies and query strings are validated with these models at the edge
(the services keep their own rules, which the web views, the CLI and the
worker rely on too); responses are rendered through them, read from the ORM
objects; and ``/api/openapi.json`` is written from them. A limit that comes
from the config is a ``Setting``, so the document says what this server
enforces.
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from flask import url_for
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, RootModel, WithJsonSchema,
                      computed_field)
from pydantic.functional_validators import PlainValidator
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import FileStorage

from ..models import CHANNEL_STATUSES, FEED_MODES, LOG_STATUSES, SCHEDULE_STATUSES
from ..providers import provider_names
from ..services.attachments import EXTENSIONS, MAX_ALT_TEXT
from ..services import bulk, imports, threads
from ..services.calendar import MAX_RANGE
from ..services.channels import MAX_NAME as MAX_CHANNEL_NAME
from ..services.common import MAX_ID, MAX_PAGE_NUMBER
from ..services.posting_queue import MAX_SLOTS, WEEKDAYS
from ..services.pages import page_status
from ..services.schedules import MAX_CHANNELS_PER_REQUEST, MAX_SEARCH
from ..timeutil import isoformat, parse_aware
from .declare import OneOf, Setting, config_default, no_default

def _integral(value):
    """2.0 is the whole number 2 in JSON (and in JSON Schema's "integer"); 2.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 else value


Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integral)]


# A time the API answers with: RFC 3339, always with an offset, in UTC.
Timestamp = Annotated[
    datetime,
    PlainSerializer(isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def when(description):
    return Field(description=f"{description} (RFC 3339, always with an offset, in UTC).")


RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"


def _aware_time(value):
    """A time a client sends: RFC 3339 with an offset (UTC inside). Whether it
    must be in the future is the service's rule (it knows "now")."""
    try:
        when = parse_aware(value)
    except ValueError as e:
        raise PydanticCustomError("date_time", str(e)) from None
    if not re.match(RFC3339, value.strip()):
        raise PydanticCustomError(
            "date_time", "Must be an RFC 3339 date-time with an offset, such as 2030-01-31T09:00:00Z.")
    return when


AwareTime = Annotated[datetime, PlainValidator(_aware_time), WithJsonSchema({"type": "string", "format": "date-time"})]

When = Annotated[
    datetime,
    PlainValidator(_aware_time),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "description": "An ISO 8601 date-time with an offset, in the future."}),
]

# Text: not blank, no NUL characters (blank by Python's own idea of whitespace).
PAGE_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
AltText = Annotated[str, Field(max_length=MAX_ALT_TEXT,
                               description=f"A description of the image, at most {MAX_ALT_TEXT} characters.")]
ProviderName = Annotated[str, OneOf(lambda: ["default", *provider_names()], "Unknown provider; one of: {choices}."),
                         Field(description="A provider name, or `default`.")]


class Input(BaseModel):
    """What a client sends: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", regex_engine="python-re")


class Output(BaseModel):
    """What the API answers: read from ORM objects, nothing but the declared fields."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, json_schema_serialization_defaults_required=True)


# Query strings

class Paging(Input):
    page: Annotated[int, Field(ge=1, le=MAX_PAGE_NUMBER, description="Page number, from 1.")] = 1
    per_page: Annotated[int, Field(ge=1, description="Items per page.",
                                   json_schema_extra=config_default("PER_PAGE_DEFAULT")),
                        Setting("maximum", "PER_PAGE_MAX", "Must be at most {limit}.")] = None


class PageFilter(Paging):
    status: Annotated[Literal["all", "draft"], Field(description=(
        "draft: only pages with no queued, publishing or published schedule."))] = "all"


class ScheduleFilters(Input):
    """The list's filters; they combine."""

    status: Annotated[Literal["all", *SCHEDULE_STATUSES], Field(
        description="Only schedules with this status.")] = "all"
    page_id: Annotated[Id, Field(description="Only this page's schedules.", json_schema_extra=no_default)] = None
    channel_id: Annotated[Id, Field(description="Only this channel's schedules (also a removed one's).",
                                    json_schema_extra=no_default)] = None
    q: Annotated[str, Field(max_length=MAX_SEARCH, json_schema_extra=no_default, description=(
        "Only schedules whose page's text contains this, in any case (blanks around it are ignored)."))] = None
    from_: Annotated[AwareTime, Field(alias="from", json_schema_extra=no_default, description=(
        "With `to`: only schedules due at or after this time (an offset is required)."))] = None
    to: Annotated[AwareTime, Field(json_schema_extra=no_default, description=(
        f"With `from`: only schedules due before this time, at most {MAX_RANGE.days} days after `from`."))] = None


class ScheduleFilter(Paging, ScheduleFilters):
    format: Annotated[Literal["json", "csv"], Field(description=(
        "csv: every schedule the filters keep (no pages), as `text/csv`, for a spreadsheet."))] = "json"


# Request bodies

class Upload(Input):
    """The file, and its description."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    file: Annotated[FileStorage, WithJsonSchema({
        "type": "string", "format": "binary", "contentMediaType": "application/octet-stream",
        "description": "The image or video. Its type is read from its bytes: PNG, JPEG, GIF, WebP or MP4."})]
    alt_text: AltText = ""


class ImportUpload(Input):
    """The CSV file, and the time zone of the times in it that have no offset."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    file: Annotated[FileStorage, WithJsonSchema({
        "type": "string", "format": "binary", "contentMediaType": "text/csv",
        "description": ("UTF-8 CSV, its first line naming the columns: `text`, `scheduled_at` and `channels` "
                        "(names or ids, separated by `;`); the export's `channel_id` is read as well. At most "
                        f"{imports.MAX_ROWS:,} rows.")})]
    time_zone: Optional[str] = Field(None, max_length=64, description=(
        "An IANA time zone (such as Europe/Berlin) for times written without an offset."))


class ImportCommit(Input):
    """Which rows to create."""

    mode: Literal[imports.MODES] = Field(description=(
        "valid: every row without a problem; all: every row, or none if any has a problem."))


class Description(Input):
    """The new description."""

    alt_text: Optional[AltText] = None


class AttachmentUse(Input):
    """A file on a page, with the page's own description of it."""

    id: Annotated[Id, Field(description="An uploaded attachment's id.")]
    alt_text: Annotated[Optional[AltText], Field(description=(
        f"This page's description of the file, at most {MAX_ALT_TEXT} characters; other pages using the file "
        "keep theirs. Omitted: the page's current description of the file, else the file's own."))] = None


PageText = Annotated[str, Field(min_length=1, pattern=PAGE_TEXT,
                                description="Surrounding blanks are trimmed; it must not be blank."),
                     Setting("maxLength", "MAX_TEXT_LENGTH", "Must be at most {limit} characters (it is {size}).")]
AttachmentIds = Annotated[Optional[list[Id]], Field(
    json_schema_extra={"uniqueItems": True},
    description="Attachment ids in order, each with the file's own description (or use `attachments`)."),
    Setting("maxItems", "MAX_ATTACHMENTS", "At most {limit} attachments per page.")]
AttachmentUses = Annotated[Optional[list[AttachmentUse]], Field(
    description="The files in order, each with this page's description (instead of `attachment_ids`)."),
    Setting("maxItems", "MAX_ATTACHMENTS", "At most {limit} attachments per page.")]


class NewVersion(Input):
    """One channel's own text for the page."""

    channel_id: Annotated[Id, Field(description="The channel this text is for.")]
    text: PageText


class VersionChange(Input):
    """One channel's own text; null drops it (the channel then gets the page's text)."""

    channel_id: Annotated[Id, Field(description="The channel this text is for.")]
    text: Optional[PageText] = Field(json_schema_extra=no_default)


VERSIONS = Field(description=(
    "Texts of the page for particular channels (Bluesky's 300 characters, say, beside Mastodon's 500); "
    "a channel without one is sent the page's text. Each is checked against its channel's limits."))
MAX_VERSIONS = 50


LINK_CARD = ("Whether the first link gets a card (title, description, picture) on networks that show one only "
             "when the post carries it (Bluesky; read from the linked page when publishing, and given to webhooks). "
             "Pages with images get none there.")


class NewPage(Input):
    """The page."""

    text: PageText
    attachment_ids: AttachmentIds = None
    attachments: AttachmentUses = None
    versions: Annotated[Optional[list[NewVersion]], VERSIONS, Field(max_length=MAX_VERSIONS)] = None
    link_card: bool = Field(True, description=LINK_CARD)


class PageChange(Input):
    """What to change: the text, the attachments (`[]` removes them all), the versions, or several."""

    text: Optional[PageText] = None
    attachment_ids: AttachmentIds = None
    attachments: AttachmentUses = None
    versions: Annotated[Optional[list[VersionChange]], Field(max_length=MAX_VERSIONS, description=(
        "The versions to set, by channel; `text: null` drops that channel's version. Versions of channels "
        "not named are kept."))] = None
    link_card: Optional[bool] = Field(None, description=LINK_CARD)


class NewSchedule(Input):
    """What to publish, when and where."""

    page_id: Annotated[Id, Field(description="The page to publish.")]
    scheduled_at: Optional[When] = None
    provider: Optional[ProviderName] = None
    queue: Optional[bool] = Field(None, description=(
        "Instead of `scheduled_at`: take the next posting time of the channel's queue "
        "(`/api/channels/{id}/queue`, or `/api/queue` when it has none) that none of its live schedules holds."))
    channel_id: Annotated[Optional[Id], Field(
        description="The channel to publish to. Without it (and without `provider`), the default channel.")] = None


class NewSchedules(Input):
    """The channels to publish the page to, and when."""

    channel_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_CHANNELS_PER_REQUEST, json_schema_extra={"uniqueItems": True},
                                           description="One schedule is created per channel.")]
    scheduled_at: Optional[When] = None
    queue: Optional[bool] = Field(None, description=(
        "Instead of `scheduled_at`: each channel takes its own next free posting time from its queue "
        "(`/api/channels/{id}/queue`, or `/api/queue` when it has none)."))


# Channels: settings and credentials are flat string maps, checked against the provider's schema by the service.
FieldMap = dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=2048)]]


class NewChannel(Input):
    """The account to connect."""

    provider: Annotated[str, OneOf(provider_names, "Unknown provider; one of: {choices}."),
                        Field(description="The provider type (see `GET /api/providers`).")]
    name: Annotated[str, Field(min_length=1, max_length=MAX_CHANNEL_NAME, description="Your name for the channel.")]
    settings: Annotated[FieldMap, Field(description="As the provider's `settings_schema` says.")] = {}
    credentials: Annotated[FieldMap, Field(
        description="As the provider's `credentials_schema` says. Stored encrypted, never shown again; a "
                    "secret left out may be generated (it is then in `generated_credentials`, once).")] = {}


class ChannelChange(Input):
    """What to change. With `settings` or `credentials`, the channel is reconnected (verified again)."""

    name: Annotated[Optional[str], Field(min_length=1, max_length=MAX_CHANNEL_NAME)] = None
    settings: Annotated[Optional[FieldMap], Field(description="Merged over the stored settings.")] = None
    credentials: Annotated[Optional[FieldMap], Field(
        description="Replace the stored credentials; `{}` lets the provider generate new ones.")] = None


class BulkChange(Input):
    """The schedules (by `ids`, or every one the list's `filter` matches) and what to do with them."""

    action: Literal[bulk.ACTIONS] = Field(description=(
        "cancel and move apply to queued schedules, retry to failed ones; the others are skipped and named."))
    ids: Annotated[list[Id], Field(min_length=1, max_length=bulk.MAX_SCHEDULES,
                                   json_schema_extra=no_default)] = None
    filter: Annotated[ScheduleFilters, Field(json_schema_extra=no_default)] = None
    by_seconds: Annotated[int, Field(ge=-bulk.MAX_MOVE_SECONDS, le=bulk.MAX_MOVE_SECONDS,
                                     json_schema_extra=no_default, description=(
                                         "For move: how far, later (positive) or earlier (negative).")),
                          BeforeValidator(_integral)] = None


class NewSnippet(Input):
    """The snippet."""

    name: str = Field(min_length=1, max_length=100, description="How you find it in Compose; unique.")
    text: PageText


class SnippetChange(Input):
    """What to change: its name, its text, or both."""

    name: Optional[str] = Field(None, min_length=1, max_length=100)
    text: Optional[PageText] = None


class NewFeed(Input):
    """The feed, where its items go, and how."""

    url: str = Field(min_length=1, max_length=2048, description="The feed's address: RSS, Atom or JSON Feed.")
    channel_ids: list[Id] = Field(min_length=1, max_length=50, description="The channels its items go to.")
    mode: Literal[FEED_MODES] = Field("queue", description=(
        "draft: a page only; queue: added to each channel's posting queue; now: published at once."))
    template: str = Field("{title}\n\n{link}", min_length=1, max_length=2000, description=(
        "The page's text: {title}, {link}, {summary} (shortened to fit each channel), {author}; {{ for a brace."))
    post_newest: bool = Field(False, description="Post the newest item the feed has now (else only later ones).")


class FeedChange(Input):
    """What to change."""

    url: Optional[str] = Field(None, min_length=1, max_length=2048)
    channel_ids: Optional[list[Id]] = Field(None, min_length=1, max_length=50)
    mode: Optional[Literal[FEED_MODES]] = None
    template: Optional[str] = Field(None, min_length=1, max_length=2000)


class ThreadText(Input):
    """The text to split, and the channel (or the limit) each part must fit."""

    text: str = Field(min_length=1, max_length=threads.MAX_TEXT, pattern=PAGE_TEXT,
                      description="The whole text; it must not be blank.")
    channel_id: Annotated[Optional[Id], Field(json_schema_extra=no_default, description=(
        "Each part must fit this channel, counted and checked as its network does."))] = None
    max_characters: Annotated[Optional[int], Field(ge=threads.MIN_CHARACTERS, le=threads.MAX_CHARACTERS,
                                                   json_schema_extra=no_default, description=(
                                                       "Instead of `channel_id`: at most this many characters "
                                                       "(graphemes) a part.")),
                              BeforeValidator(_integral)] = None
    numbering: bool = Field(False, description="Add \" 1/3\" (and so on) to each part, counted in its length.")


class NewTime(Input):
    """The new time."""

    scheduled_at: When


class PublishedByHand(Input):
    """What the person saw on the network."""

    url: Optional[str] = Field(None, max_length=2048, description="The post's address, if they have it.")


class QueueSlot(Input):
    weekday: Literal[WEEKDAYS]
    time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="24-hour local time, HH:MM.")


class NewPostingQueue(Input):
    """The time zone and the weekly posting times."""

    time_zone: str = Field(min_length=1, max_length=64, description="An IANA time zone, such as Europe/Berlin.")
    slots: list[QueueSlot] = Field(max_length=MAX_SLOTS, description=(
        "Duplicates are dropped. A time that does not exist on a daylight-saving night moves forward; "
        "one that happens twice takes its first occurrence."))


class PublishRequest(Input):
    """The page to publish."""

    page_id: Annotated[Id, Field(description="The page to publish.")]


# Responses

class Attachment(Output):
    """An uploaded image or video."""

    id: Id
    filename: str = Field(description="The uploaded file's name, cleaned: for display only.")
    content_type: Literal[tuple(EXTENSIONS)] = Field(description="The type read from the file's bytes.")
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="SHA-256 of the bytes, in hex.")
    alt_text: str = Field(max_length=MAX_ALT_TEXT,
                          description="The description read to people who cannot see the image.")
    width: Optional[int] = Field(ge=1, description="Pixels; null for videos.")
    height: Optional[int] = Field(ge=1, description="Pixels; null for videos.")
    created_at: Timestamp = when("When it was uploaded")

    @computed_field(description="Where the bytes are served.", json_schema_extra={"format": "uri-reference"})
    @property
    def url(self) -> str:
        return url_for("api.attachment_file", attachment_id=self.id)


class ChannelRef(Output):
    """The channel a schedule publishes to."""

    id: Id
    name: str
    provider: str


class ScheduleSummary(Output):
    """A schedule, without its page."""

    id: Id
    page_id: Id
    provider: str = Field(description="The provider it publishes through (its channel's).")
    channel: ChannelRef
    scheduled_at: Timestamp = when("The time chosen for it; retries never change it")
    next_attempt_at: Optional[Timestamp] = when(
        "When the worker tries next: the chosen time, later after a failed attempt; null unless queued")
    status: Literal[SCHEDULE_STATUSES] = Field(description=(
        "queued: waiting for its time; publishing: an attempt is running; published; "
        "failed: no attempts left (it can be retried); canceled."))
    attempts: int = Field(ge=0, description="Attempts made so far.")
    max_attempts: int = Field(ge=0, description="Attempts allowed before it fails.")
    last_error: Optional[str] = Field(description="Why the last attempt failed.")
    outcome_unknown: bool = Field(description=(
        "The last attempt may have reached the network without an answer coming back. Queued: the retry sends "
        "the same content with the same key. Failed: it may have been published (on a network without "
        "idempotency it is never sent again by itself); mark it as published or retry it."))
    published_at: Optional[Timestamp] = when("When it was published")
    external_id: Optional[str] = Field(description="The provider's id for the post.")
    url: Optional[str] = Field(description="The post's address at the provider.")
    idempotency_key: str = Field(description="Sent to the provider on every attempt, so it posts once.")
    created_at: Timestamp = when("When it was created")
    updated_at: Timestamp = when("When it last changed")


class Version(Output):
    channel_id: Id
    text: str = Field(description="What this channel is sent instead of the page's text.")


class PageSummary(Output):
    """A page as shown inside a schedule."""

    id: Id
    text: str = Field(min_length=1)
    attachments: list[Attachment] = Field(description=(
        "In the order they appear on the page; each `alt_text` is this page's description of the file."))


class Page(PageSummary):
    """A page: text and attachments, and its schedules."""

    created_at: Timestamp = when("When it was created")
    updated_at: Timestamp = when("When it last changed")
    deleted_at: Optional[Timestamp] = when(
        "When it was deleted (a deleted page is readable only while it has published history)")
    schedules: list[ScheduleSummary] = Field(description="Its schedules, oldest first.")
    versions: list[Version] = Field(description="Its own texts for particular channels, by channel id.")
    link_card: bool = Field(description=LINK_CARD)

    @computed_field(description="draft when never scheduled, else the status of its latest schedule.")
    @property
    def status(self) -> Literal["draft", *SCHEDULE_STATUSES]:
        return page_status(self)


class Schedule(ScheduleSummary):
    """A page to be published through a provider at a time."""

    page: PageSummary


class SentFile(Output):
    id: Id
    alt_text: str = Field(description="The description sent with it.")


class SentContent(Output):
    """The page as it was handed to the provider."""

    text: str
    attachments: list[SentFile] = Field(description="In the order they were sent.")


class PublishLog(Output):
    """One publishing attempt and its outcome."""

    id: Id
    page_id: Id
    schedule_id: Optional[Id]
    channel_id: Optional[Id]
    provider: str
    attempt: int = Field(ge=1, description="Which attempt of its schedule this was, from 1.")
    status: Literal[LOG_STATUSES]
    external_id: Optional[str] = Field(description="The provider's id for the post.")
    url: Optional[str] = Field(description="The post's address at the provider.")
    error: Optional[str] = Field(description="Why the attempt failed.")
    notes: list[str] = Field(description="What the provider said you should know about the post, like an image "
                                         "scaled down to fit the network's size limit.")
    duration_ms: Optional[int] = Field(ge=0, description="How long the provider took.")
    sent: Optional[SentContent] = Field(description=(
        "What the provider was handed on this attempt, as it was then (later edits never change it); null when "
        "the attempt never reached the provider or was recorded before pagesite kept it."))
    created_at: Timestamp = when("When the attempt ended")


class Published(PublishLog):
    """The attempt that published the page, with its schedule."""

    schedule: ScheduleSummary


class Slot(Output):
    weekday: Literal[WEEKDAYS]
    time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="24-hour local time, HH:MM.")


class PostingQueue(Output):
    """Weekly posting times in a time zone."""

    time_zone: str = Field(description="An IANA time zone.")
    slots: list[Slot] = Field(description="Sorted by weekday, then time.")


class ChannelPostingQueue(PostingQueue):
    """A channel's own weekly posting times."""

    uses_default: bool = Field(description=(
        "True while the channel has no posting times of its own: it then takes them from `/api/queue`."))


class CalendarFeed(Output):
    """The secret address of the feed."""

    url: str = Field(json_schema_extra={"format": "uri"}, description=(
        "An iCalendar (text/calendar) feed, readable without a token: keep it secret."))


class Listing(Output):
    total: int = Field(ge=0, description="How many there are in all.")
    page: int = Field(ge=1, description="This page's number, from 1.")
    per_page: int = Field(ge=1, description="The page size used.")


class AttachmentList(Listing):
    """One page of attachments."""

    items: list[Attachment]


class PageList(Listing):
    """One page of pages."""

    items: list[Page]


class BulkSkip(Output):
    id: Id
    status: Literal[SCHEDULE_STATUSES]
    reason: str = Field(description="Why it was left as it is.")


class BulkOutcome(Output):
    """What changed, in one transaction, and what was left as it was."""

    action: Literal[bulk.ACTIONS]
    changed: list[Id] = Field(description="The schedules changed, by id.")
    skipped: list[BulkSkip]


class Snippet(Output):
    """A saved block of text (a hashtag group, a sign-off) that Compose inserts at the cursor."""

    id: Id
    name: str
    text: str
    created_at: Timestamp = when("When it was created")
    updated_at: Timestamp = when("When it last changed")


class Feed(Output):
    """A feed pagesite reads, and how its last read went."""

    id: Id
    url: str
    title: Optional[str] = Field(description="The feed's own title, as last read.")
    channel_ids: list[Id]
    mode: Literal[FEED_MODES]
    template: str
    checked_at: Optional[Timestamp] = when("When it was last read")
    next_check_at: Optional[Timestamp] = when("When it is read next")
    failures: int = Field(ge=0, description="Reads failed in a row (each one waits twice as long as the last).")
    last_error: Optional[str] = Field(description="Why the last read failed, or an item that had to stay a draft.")
    created_at: Timestamp = when("When it was added")

    @computed_field(description="ok, or failing after 3 failed reads in a row.")
    @property
    def status(self) -> Literal["ok", "failing"]:
        return "failing" if self.failures >= 3 else "ok"


class Reading(Output):
    """A post's public counts at one moment; null where the network does not count one."""

    read_at: Timestamp = when("When they were read")
    likes: Optional[int] = Field(ge=0)
    reposts: Optional[int] = Field(ge=0)
    replies: Optional[int] = Field(ge=0)
    quotes: Optional[int] = Field(ge=0)
    deleted: bool = Field(description="The post was gone from the network (it is not read again).")


class PostCounts(Output):
    """How one published schedule's post did."""

    schedule_id: Id
    channel: ChannelRef
    url: Optional[str]
    published_at: Optional[Timestamp] = when("When it was published")
    reads_counts: bool = Field(description="Whether its network shows public counts pagesite reads.")
    latest: Optional[Reading]
    history: list[Reading] = Field(description="Every reading, oldest first.")


class PageCounts(Output):
    """How a page did, per channel it was published on."""

    items: list[PostCounts]


class FeedList(Output):
    """Every feed, oldest first."""

    items: list[Feed]


class FeedCheck(Output):
    """What reading it now found."""

    new: int = Field(ge=0, description="Pages made from new items.")
    unchanged: bool = Field(False, description="The feed said it had not changed since the last read (304).")
    error: Optional[str] = Field(None, description="Why it could not be read.")


class SnippetList(Output):
    """Every snippet, by name."""

    items: list[Snippet]


class ImportRow(Output):
    line: int = Field(description="Its line in the file.")
    text: str
    scheduled_at: Optional[Timestamp] = Field(description="When it will be published; null if unreadable.")
    channel_ids: list[Id]
    channels: list[str] = Field(description="The channels, as messages name them.")
    problems: list[str] = Field(description="What keeps it from being created, each naming its column ([]: none).")


class ImportPreview(Output):
    """Every row as it will be created, checked as of now, with its problems."""

    id: Id
    filename: str
    time_zone: Optional[str]
    created_at: Timestamp
    committed_at: Optional[Timestamp] = Field(description="When its rows were created; null until then.")
    schedule_ids: list[Id] = Field(description="The schedules the commit created.")
    valid: int = Field(description="Rows that can be created.")
    invalid: int = Field(description="Rows with a problem.")
    rows: list[ImportRow]


class ThreadPart(Output):
    text: str = Field(description="What is posted (with its number, when numbered).")
    characters: int = Field(description="Its length as the network counts it.")
    start: int = Field(description="Where it begins in the text sent, in characters (Unicode code points).")
    end: int = Field(description="Where it ends; what lies between two parts is white space only.")


class ThreadParts(Output):
    """The parts, in order: the first is the post, each next one a reply to the one before."""

    parts: list[ThreadPart]
    max_characters: int = Field(description="The limit each part was fitted to.")


class ScheduleList(Listing):
    """One page of schedules."""

    items: list[Schedule]


class PublishLogList(Output):
    """Every attempt, newest first."""

    items: list[PublishLog]


class ScheduleItems(Output):
    """The schedules created, one per channel, in the order asked."""

    items: list[Schedule]


class Provider(Output):
    name: str
    label: str = Field(description="Its name for people.")
    default: bool = Field(description="Whether the default channel is of this provider.")
    settings_schema: dict[str, Any] = Field(description="JSON schema of a channel's settings.")
    credentials_schema: dict[str, Any] = Field(
        description="JSON schema of a channel's credentials; fields marked `secret` are never shown again.")


class ChannelAccount(Output):
    """The account as the network reports it."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    handle: Optional[str] = None
    display_name: Optional[str] = None
    avatar_url: Optional[str] = None
    url: Optional[str] = None


class ChannelLimits(Output):
    """What the channel accepts; a page that breaks these is refused when it is scheduled."""

    max_characters: int = Field(ge=0)
    counting: str = Field(description="How characters are counted.")
    max_attachments: int = Field(ge=0)
    content_types: list[str] = Field(description="Accepted attachment types; empty: any the upload accepts.")
    max_image_bytes: Optional[int] = Field(description="Largest image; null: the upload limit.")
    max_video_bytes: Optional[int] = Field(description="Largest video; 0: no video; null: the upload limit.")
    max_description: Optional[int] = Field(description="Longest description (alt text); null: no limit of its own.")
    characters_reserved_per_url: Optional[int] = Field(
        None, description="Each link counts as this many characters (Mastodon); null: as written.")


class Channel(Output):
    """A connected account on a provider. Its credentials are never shown."""

    id: Id
    provider: str
    name: str
    settings: dict[str, Any]
    account: ChannelAccount
    # Read through Channel.current_status / current_error: credentials no configured key can read need attention too.
    status: Literal[CHANNEL_STATUSES] = Field(validation_alias="current_status", description=(
        "connected, or needs_attention: the network refused its credentials, or they were encrypted with a key "
        "that is no longer configured; reconnect it."))
    last_error: Optional[str] = Field(validation_alias="current_error", description="Why it needs attention.")
    limits: ChannelLimits
    refreshed_at: Optional[Timestamp] = when("When its account and limits were last read from the network "
                                             "(connecting, or the daily refresh)")
    created_at: Timestamp = when("When it was connected")
    updated_at: Timestamp = when("When it last changed")


class ConnectedChannel(Channel):
    """The channel, and any secret the provider generated: shown this once, store it now."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    generated_credentials: Optional[dict[str, str]] = Field(
        None, description="Generated secrets (a webhook's signing secret); present only in this answer.")


class ChannelList(Output):
    """Every connected channel, oldest first."""

    items: list[Channel]


class ProviderList(Output):
    """The providers."""

    items: list[Provider]


class Report(Output):
    """Part of the health report: a member with a default is left out when it does not apply."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)


class Check(Report):
    ok: bool
    error: Optional[str] = Field(None, description="Why the check failed.")


HeartbeatAge = Optional[Annotated[float, Field(ge=0, description="Seconds since the last heartbeat.")]]


class WorkerCheck(Report):
    ok: bool
    processes: int = Field(ge=0)
    last_heartbeat_age: HeartbeatAge


class SchedulerCheck(Report):
    ok: bool
    last_heartbeat_age: HeartbeatAge


class Checks(Report):
    database: Check
    redis: Check
    worker: Optional[WorkerCheck] = None
    scheduler: Optional[SchedulerCheck] = None


class ScheduleCounts(Report):
    due_unclaimed: int = Field(ge=0, description="Queued schedules past their time.")
    publishing: int = Field(ge=0, description="Attempts running now.")
    oldest_overdue_id: Optional[Id] = Field(description="The oldest due, unclaimed schedule.")
    oldest_overdue_at: Optional[str] = Field(json_schema_extra={"format": "date-time"},
                                             description="The oldest due, unclaimed schedule's time.")
    oldest_overdue_seconds: Optional[float]


class ChannelAttention(Report):
    id: Id
    name: str
    provider: str


HEALTH_STATUS = Literal["ok", "degraded"]


class HealthStatus(Report):
    """Whether pagesite can publish right now, and nothing more: the answer without a token."""

    status: HEALTH_STATUS


class Health(Report):
    """Whether pagesite can publish right now, and why not: the answer to a valid token or a session."""

    status: HEALTH_STATUS
    problems: list[str] = Field(description="Why it is degraded; empty when ok.")
    checked_at: str = Field(json_schema_extra={"format": "date-time"}, description="When the report was made.")
    checks: Checks
    schedules: Optional[ScheduleCounts] = Field(None, description="Present when the database answers.")
    queue_depth: Optional[int] = Field(None, ge=0, description="Jobs waiting in the queue; present when Redis answers.")
    channels_needing_attention: Optional[list[ChannelAttention]] = Field(
        None, description="Channels whose network refused their credentials: reconnect them. "
                          "Present when the database answers.")


class HealthAnswer(RootModel[Union[HealthStatus, Health]]):
    """`status` alone without a token; the whole report (`Health`) with a valid token or a session."""


class OpenAPIDocument(Output):
    """The OpenAPI 3.1 document of this API."""

    model_config = ConfigDict(extra="allow")


# Problems (RFC 9457): every error of the API is one.

class Problem(Output):
    """An RFC 9457 problem details object; every error of the API is one."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    type: str = Field(json_schema_extra={"format": "uri-reference",
                                         "examples": ["https://pagesite.dev/problems/validation-failed"]},
                      description="A URI naming the kind of problem, or about:blank.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time.")
    instance: str = Field(json_schema_extra={"format": "uri-reference"}, description="The path of the request.")
    errors: Optional[dict[str, Annotated[list[str], Field(min_length=1)]]] = Field(
        None, description="Field name -> what is wrong with it (422 and 413).")
    schedule_id: Optional[Id] = Field(None, description="The schedule involved (409, 503).")
    schedule_status: Optional[Literal[SCHEDULE_STATUSES]] = Field(
        None, description="The schedule's current status (409).")
    publish_log: Optional[PublishLog] = Field(None, description="The failed attempt (502).")
    schedule: Optional[ScheduleSummary] = Field(None, description="The schedule, which says whether it will be "
                                                                  "retried (502).")


class ValidationProblem(Problem):
    """A problem that names the fields at fault in `errors`."""

    errors: dict[str, Annotated[list[str], Field(min_length=1)]] = Field(
        description="Field name -> what is wrong with it.")


class PublishFailedProblem(Problem):
    """The provider refused; `publish_log` is the failed attempt, `schedule` says whether it will be retried."""

    publish_log: Optional[PublishLog] = Field(None, description="The failed attempt, if the provider was reached.")
    schedule: ScheduleSummary


PROBLEMS = (Problem, ValidationProblem, PublishFailedProblem)


# API tokens

class NewToken(Input):
    """The token to create: a name, and optionally when it expires."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=PAGE_TEXT,
                               description="How you will recognise it.")]
    expires_at: Annotated[AwareTime, Field(json_schema_extra=no_default, description=(
        "When it stops working (an offset is required; in the future). Not together with `expires_in_days`."))] = None
    expires_in_days: Annotated[int, Field(ge=1, le=3650, json_schema_extra=no_default, description=(
        "It stops working this many days from now. Without this or `expires_at`, it works until revoked.")),
        BeforeValidator(_integral)] = None


class Token(Output):
    """An API token's record; the token itself is never shown again after its creation."""

    id: Id
    name: str
    prefix: str = Field(description="Its first characters, to tell tokens apart.")
    created_at: Timestamp = when("When it was created")
    last_used_at: Optional[Timestamp] = when("When it was last used (to the minute), or null")
    expires_at: Optional[Timestamp] = when("When it stops working, or null for never")
    revoked_at: Optional[Timestamp] = when("When it was revoked, or null")


class NewTokenAnswer(Token):
    """The new token: `token` is shown this once, store it now (only its SHA-256 is kept)."""

    token: str = Field(description="The bearer token, for `Authorization: Bearer <token>`.")


class TokenList(Output):
    """Your API tokens, newest first (revoked and expired ones too)."""

    items: list[Token]
