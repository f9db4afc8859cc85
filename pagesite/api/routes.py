"""Routes of the JSON API. Each one is declared with its shapes (``shapes.py``),
then calls a service; parsing and rendering are done by the declaration."""

import itertools

from flask import current_app, stream_with_context, url_for

from ..providers import provider_class, provider_names
from .. import security
from .. import rate_limits
from ..security import large_body
from ..services import attachments, bulk, channels, engagement, feeds, health, imports, pages, schedules, snippets, threads
from . import bp
from . import shapes as s
from .declare import CHANNEL_NOT_FOUND, NOT_FOUND, QUEUE_DOWN, RATE_LIMITED, ProblemResponse, endpoint, render
from .problems import problem, document

CONFLICT = ProblemResponse(409, "The page already has a live schedule for this channel; `schedule_id` names it.")
CONFLICT_OR_FULL = ProblemResponse(409, "The page already has a live schedule for this channel (`schedule_id` names "
                                        "it), or every posting time of the queue is taken.")
NOT_QUEUED = ProblemResponse(409, "The schedule is no longer queued; `schedule_status` says what it is.")


# Attachments

def _upload_description(config):
    return ("The type is decided by the file's bytes, never by its name. Images may be at most "
            f"{config['MAX_IMAGE_BYTES'] // (1024 * 1024)} MB and {config['MAX_IMAGE_PIXELS']:,} pixels, "
            f"videos at most {config['MAX_VIDEO_BYTES'] // (1024 * 1024)} MB.")


@bp.post("/attachment")
@large_body
@endpoint("uploadAttachment", "Attachments", "Upload an image or video", _upload_description,
          form=s.Upload, response=s.Attachment, status=201,
          location=lambda asset: url_for(".get_attachment", attachment_id=asset.id))
def upload_attachment(body):
    return attachments.upload(body.file.stream, body.file.filename or "", body.alt_text)


@bp.get("/attachment")
@endpoint("listAttachments", "Attachments", "List attachments", "Newest first.",
          query=s.Paging, response=s.AttachmentList)
def list_attachments(query):
    return attachments.list_attachments(query.page, query.per_page)


@bp.get("/attachment/<int:attachment_id>")
@endpoint("getAttachment", "Attachments", "Read an attachment", "Its details; the bytes are at `url`.",
          response=s.Attachment, errors=[NOT_FOUND])
def get_attachment(attachment_id):
    return attachments.get_attachment(attachment_id)


@bp.patch("/attachment/<int:attachment_id>")
@endpoint("describeAttachment", "Attachments", "Describe an attachment",
          "Sets its alt text. An omitted or null `alt_text` clears it.",
          body=s.Description, response=s.Attachment, errors=[NOT_FOUND])
def describe_attachment(attachment_id, body):
    return attachments.describe(attachment_id, body.alt_text or "")


def _bytes(description):
    return {"description": description,
            "content": {t: {"schema": {"type": "string", "contentMediaType": t}} for t in attachments.EXTENSIONS}}


@bp.get("/attachment/<int:attachment_id>/file")
@endpoint("getAttachmentFile", "Attachments", "Download an attachment's bytes",
          "Served with its sniffed content type, `X-Content-Type-Options: nosniff` and a sandboxing "
          "Content-Security-Policy. Supports conditional (ETag) and range requests.",
          errors=[NOT_FOUND], responses={
              "200": _bytes("The bytes."),
              "206": _bytes("The requested range of the bytes."),
              "304": {"description": "Not modified since the ETag sent in If-None-Match."},
              "416": {"description": "The requested range is outside the file."},
          })
def attachment_file(attachment_id):
    return attachments.send(attachments.get_attachment(attachment_id))


# Pages

@bp.post("/pages")
@endpoint("createPage", "Pages", "Compose a page",
          lambda config: f"Text of at most {config['MAX_TEXT_LENGTH']} characters (surrounding blanks are "
                         f"trimmed) and up to {config['MAX_ATTACHMENTS']} uploaded attachments, in the order given.",
          body=s.NewPage, response=s.Page, status=201,
          location=lambda page: url_for(".get_page", page_id=page.id))
def create_page(body):
    return pages.create_page(body.text, body.attachment_ids, _uses(body.attachments), versions=_dump(body.versions),
                             link_card=body.link_card)


def _uses(attachments):
    return None if attachments is None else [a.model_dump() for a in attachments]


def _dump(items):
    return None if items is None else [item.model_dump() for item in items]


@bp.get("/pages")
@endpoint("listPages", "Pages", "List pages", "Newest first; `status=draft` keeps the drafts.",
          query=s.PageFilter, response=s.PageList)
def list_pages(query):
    return pages.list_pages(query.page, query.per_page, query.status)


@bp.get("/pages/<int:page_id>")
@endpoint("getPage", "Pages", "Read a page",
          "With its attachments and schedules. A deleted page answers 404, unless it was published somewhere: "
          "then it stays readable, with `deleted_at` set, so its history can be read.",
          response=s.Page, errors=[NOT_FOUND])
def get_page(page_id):
    return pages.get_page(page_id)


STILL_PUBLISHING_CONFLICT = ProblemResponse(
    409, "One of the page's schedules is publishing right now; `schedule_id` names it. Try again once it has "
         "finished.")


@bp.patch("/pages/<int:page_id>")
@endpoint("updatePage", "Pages", "Edit a page",
          "Changes the text, the attachments and/or the channels' versions, with the same rules as composing, and "
          "within the limits of every channel the page is queued for (each on what it will be sent); its queued "
          "schedules then publish the new content. A publish "
          "racing the edit sends the old or the new content whole, never a mix, and its log's `sent` says which.",
          body=s.PageChange, response=s.Page, errors=[NOT_FOUND, STILL_PUBLISHING_CONFLICT])
def update_page(page_id, body):
    return pages.update_page(page_id, body.text, body.attachment_ids, _uses(body.attachments),
                             versions=_dump(body.versions), link_card=body.link_card)


@bp.delete("/pages/<int:page_id>")
@endpoint("deletePage", "Pages", "Delete a page",
          "Cancels its queued schedules and removes it from every list. A page never published then answers "
          "404; one with published history stays readable by id (with `deleted_at`), logs included.",
          errors=[NOT_FOUND, STILL_PUBLISHING_CONFLICT], responses={"204": {"description": "Deleted."}})
def delete_page(page_id):
    pages.delete_page(page_id)
    return current_app.response_class(status=204)


@bp.post("/pages/<int:page_id>/duplicate")
@endpoint("duplicatePage", "Pages", "Duplicate a page", "A new draft with the same text and attachments.",
          response=s.Page, status=201, errors=[NOT_FOUND],
          location=lambda page: url_for(".get_page", page_id=page.id))
def duplicate_page(page_id):
    return pages.duplicate_page(page_id)
@bp.post("/pages/<int:page_id>/schedules")
@endpoint("createPageSchedules", "Schedules", "Schedule a page on several channels",
          "Creates one schedule per channel, for `scheduled_at` (now when omitted). Every channel's limits are "
          "checked first; nothing is created unless every schedule can be (a 422 names each channel and limit, "
          "a 409 the page's live schedule on one of them).",
          body=s.NewSchedules, response=s.ScheduleItems, status=201, errors=[NOT_FOUND, CONFLICT, QUEUE_DOWN])
def create_page_schedules(page_id, body):
    pages.live_page(page_id)  # a 404 for an unknown or deleted page in the path
    return {"items": schedules.create_schedules(page_id, body.channel_ids, body.scheduled_at, bool(body.queue))}


@bp.get("/pages/<int:page_id>/logs")
@endpoint("getPageLogs", "Pages", "A page's publishing attempts", "Every attempt, newest first.",
          response=s.PublishLogList, errors=[NOT_FOUND])
def page_logs(page_id):
    return {"items": pages.page_logs(page_id)}


# Schedules

@bp.post("/schedules")
@endpoint("createSchedule", "Schedules", "Schedule a page",
          "Publishes the page to `channel_id` at `scheduled_at`, or as soon as a worker is free when it is "
          "omitted, or with `queue: true` at the next free posting time of the channel's posting queue (the "
          "default queue when the channel has no times of its own). Without "
          "`channel_id`, `provider` picks the default channel if it is of that provider (else that provider's "
          "first channel); with neither, the default channel. A page has at most one queued or publishing "
          "schedule per channel; a page that breaks the channel's limits is a 422 naming them.",
          body=s.NewSchedule, response=s.Schedule, status=201, errors=[CONFLICT_OR_FULL, QUEUE_DOWN],
          location=lambda schedule: url_for(".get_schedule", schedule_id=schedule.id))
def create_schedule(body):
    return schedules.create_schedule(body.page_id, body.scheduled_at, body.provider, body.channel_id,
                                     bool(body.queue))


@bp.get("/schedules")
@endpoint("listSchedules", "Schedules", "List schedules",
          "By time, then id; `from` and `to` give a date range, `q` searches the pages' text, `channel_id` "
          "keeps one channel's; filters combine. `format=csv` answers every schedule they keep as a CSV file "
          "(`text/csv`: schedule_id, page_id, text, channel_id, channel, scheduled_at, status, published_at, url, "
          "last_error; a cell that would start a spreadsheet formula starts with `'`).",
          query=s.ScheduleFilter, response=s.ScheduleList)
def list_schedules(query):
    if query.format == "csv":
        lines = schedules.export_csv(query.status, query.page_id, query.from_, query.to, query.q, query.channel_id)
        first = next(lines)  # read before the answer starts: a database error is still a problem answer
        response = current_app.response_class(stream_with_context(itertools.chain([first], lines)),
                                              mimetype="text/csv")
        response.headers["Content-Disposition"] = 'attachment; filename="pagesite-schedules.csv"'
        return response
    return schedules.list_schedules(query.status, query.page_id, query.page, query.per_page, query.from_, query.to,
                                    query.q, query.channel_id)


@bp.post("/schedules/bulk")
@endpoint("changeSchedules", "Schedules", "Cancel, move or retry many schedules",
          f"At most {bulk.MAX_SCHEDULES}, chosen by `ids` or by `filter` (the list's filters), in one transaction. "
          "A schedule the action does not apply to (cancel and move: not queued; retry: not failed, or its page "
          "has a live schedule on that channel) is left as it is and named in `skipped`. A move that would put "
          "one into the past moves none.", body=s.BulkChange, response=s.BulkOutcome, errors=[CONFLICT])
def change_schedules(body):
    filters = body.filter.model_dump(by_alias=True) if body.filter is not None else None
    return bulk.act(body.action, body.ids, filters, body.by_seconds)


# Snippets

@bp.get("/snippets")
@endpoint("listSnippets", "Pages", "List snippets", "By name.", response=s.SnippetList)
def list_snippets():
    return {"items": snippets.list_snippets()}


@bp.post("/snippets")
@endpoint("createSnippet", "Pages", "Save a snippet",
          "A block of text Compose inserts at the cursor; its text follows the page text's rules.",
          body=s.NewSnippet, response=s.Snippet, status=201)
def create_snippet(body):
    return snippets.create_snippet(body.name, body.text)


@bp.patch("/snippets/<int:snippet_id>")
@endpoint("updateSnippet", "Pages", "Rename or rewrite a snippet", body=s.SnippetChange, response=s.Snippet,
          errors=[NOT_FOUND])
def update_snippet(snippet_id, body):
    return snippets.update_snippet(snippet_id, body.name, body.text)


@bp.delete("/snippets/<int:snippet_id>")
@endpoint("deleteSnippet", "Pages", "Delete a snippet", errors=[NOT_FOUND],
          responses={"204": {"description": "Deleted."}})
def delete_snippet(snippet_id):
    snippets.delete_snippet(snippet_id)
    return current_app.response_class(status=204)


# How it did

@bp.get("/pages/<int:page_id>/metrics")
@endpoint("getPageMetrics", "Pages", "How a published page did",
          "Per channel it was published on: the latest public counts (`likes`, `reposts`, `replies`, `quotes`) "
          "and every reading, oldest first. Read 1 h, 6 h, 24 h, 3 days and 7 days after publishing, then weekly "
          "for five weeks.", response=s.PageCounts, errors=[NOT_FOUND])
def page_metrics(page_id):
    return engagement.page_counts(page_id)


@bp.post("/pages/<int:page_id>/metrics/refresh")
@endpoint("refreshPageMetrics", "Pages", "Read a page's counts now",
          "Reads every published post of the page now (a network that asks to wait is read later) and answers "
          "as GET does.", response=s.PageCounts, errors=[NOT_FOUND])
def refresh_page_metrics(page_id):
    return engagement.refresh_page(page_id)


# Feeds

@bp.get("/feeds")
@endpoint("listFeeds", "Feeds", "List feeds", "Oldest first, each with how its last read went.",
          response=s.FeedList)
def list_feeds():
    return {"items": feeds.list_feeds()}


@bp.post("/feeds")
@endpoint("addFeed", "Feeds", "Add a feed",
          "Read once first: an address that gives no feed is a 422 on `url`, saying what it gave. The items "
          "it has now are seen (the newest made a page too with `post_newest`); each later item becomes a page "
          "once, whatever the feed does with its order or dates.",
          body=s.NewFeed, response=s.Feed, status=201)
def add_feed(body):
    return feeds.add_feed(body.url, body.channel_ids, body.mode, body.template, body.post_newest)


@bp.get("/feeds/<int:feed_id>")
@endpoint("getFeed", "Feeds", "Get a feed", response=s.Feed, errors=[NOT_FOUND])
def get_feed(feed_id):
    return feeds.get_feed(feed_id)


@bp.patch("/feeds/<int:feed_id>")
@endpoint("updateFeed", "Feeds", "Change a feed", "A new address is read from scratch, soon.",
          body=s.FeedChange, response=s.Feed, errors=[NOT_FOUND])
def update_feed(feed_id, body):
    return feeds.update_feed(feed_id, body.url, body.channel_ids, body.mode, body.template)


@bp.delete("/feeds/<int:feed_id>")
@endpoint("deleteFeed", "Feeds", "Stop reading a feed", "The pages it made stay.", errors=[NOT_FOUND],
          responses={"204": {"description": "Deleted."}})
def delete_feed(feed_id):
    feeds.delete_feed(feed_id)
    return current_app.response_class(status=204)


@bp.post("/feeds/<int:feed_id>/check")
@endpoint("checkFeed", "Feeds", "Read a feed now", "Makes a page of each new item, as the periodic read does.",
          response=s.FeedCheck, errors=[NOT_FOUND])
def check_feed(feed_id):
    return feeds.check_feed(feed_id)


ALREADY_COMMITTED = ProblemResponse(409, "The import was committed already.")


@bp.post("/imports")
@large_body
@endpoint("importPlan", "Schedules", "Read a CSV plan",
          "Reads the file and answers every row as it will be created, with its problems (a time in the past "
          "or skipped by a daylight-saving night, an unknown channel, over a channel's limits). Nothing is "
          "created until the import is committed.",
          form=s.ImportUpload, response=s.ImportPreview, status=201,
          location=lambda preview: url_for(".get_import", import_id=preview["id"]))
def import_plan(body):
    return imports.preview(imports.read(body.file.stream, body.file.filename or "", body.time_zone))


@bp.get("/imports/<int:import_id>")
@endpoint("getImport", "Schedules", "Read an import", "Its rows, checked again as of now.",
          response=s.ImportPreview, errors=[NOT_FOUND])
def get_import(import_id):
    return imports.preview(imports.get_import(import_id))


@bp.post("/imports/<int:import_id>/commit")
@endpoint("commitImport", "Schedules", "Create an import's pages and schedules",
          "A page and its schedules per row, in one transaction, after checking the rows again: with "
          "`mode: valid` the rows without a problem, with `mode: all` every row or, if any has a problem, "
          "none (422 naming each row as `rows.<line>`).",
          body=s.ImportCommit, response=s.ImportPreview, errors=[NOT_FOUND, ALREADY_COMMITTED])
def commit_import(import_id, body):
    return imports.preview(imports.commit(import_id, body.mode))


@bp.post("/threads/split")
@endpoint("splitThread", "Pages", "Split a long text into a thread",
          f"Parts of at most the channel's limit (or `max_characters`), at most {threads.MAX_PARTS}: broken at a "
          "paragraph, else a sentence, else between words (between characters in scripts written without "
          "spaces), never inside a link, a mention, a hashtag or a character; each part fills at least half "
          "of what would fit. Nothing is saved.",
          body=s.ThreadText, response=s.ThreadParts)
def split_thread(body):
    parts, limit = threads.split_for(body.text, channel_id=body.channel_id, max_characters=body.max_characters,
                                     numbering=body.numbering)
    return {"parts": parts, "max_characters": limit}


@bp.get("/schedules/<int:schedule_id>")
@endpoint("getSchedule", "Schedules", "Read a schedule", "With its page.", response=s.Schedule, errors=[NOT_FOUND])
def get_schedule(schedule_id):
    return schedules.get_schedule(schedule_id)


@bp.patch("/schedules/<int:schedule_id>")
@endpoint("reschedule", "Schedules", "Move a schedule", "Only a queued schedule can be moved.",
          body=s.NewTime, response=s.Schedule, errors=[NOT_FOUND, NOT_QUEUED, QUEUE_DOWN])
def reschedule(schedule_id, body):
    return schedules.reschedule(schedule_id, body.scheduled_at)


@bp.post("/schedules/<int:schedule_id>/cancel")
@endpoint("cancelSchedule", "Schedules", "Cancel a schedule",
          "Only a queued schedule can be canceled; it is then never published.",
          response=s.Schedule, errors=[NOT_FOUND, NOT_QUEUED, QUEUE_DOWN])
def cancel_schedule(schedule_id):
    return schedules.cancel_schedule(schedule_id)


@bp.post("/schedules/<int:schedule_id>/retry")
@endpoint("retrySchedule", "Schedules", "Retry a failed schedule",
          "Queues it again, due now, with a fresh set of attempts.",
          response=s.Schedule, errors=[
              NOT_FOUND,
              ProblemResponse(409, "The schedule is not failed (`schedule_status` says what it is), or the page "
                                   "already has a live schedule for this provider (`schedule_id` names it)."),
              QUEUE_DOWN])
def retry_schedule(schedule_id):
    return schedules.retry_schedule(schedule_id)


@bp.post("/schedules/<int:schedule_id>/mark-published")
@endpoint("markSchedulePublished", "Schedules", "Mark a failed schedule as published",
          "For a schedule that may have been published (`outcome_unknown`) and was, as the network shows: it "
          "becomes published, with the post's link if given. Nothing is sent; the publish log says so.",
          body=s.PublishedByHand, response=s.Schedule, errors=[
              NOT_FOUND,
              ProblemResponse(409, "The schedule is not failed; `schedule_status` says what it is.")])
def mark_schedule_published(schedule_id, body):
    return schedules.mark_published(schedule_id, body.url)


# Providers

@bp.get("/providers")
@endpoint("listProviders", "Providers", "List providers", "The places pages can be published through.",
          response=s.ProviderList)
def list_providers():
    default = channels.default_channel()
    return {"items": [
        {"name": name, "label": provider_class(name).label, "default": default is not None and default.provider == name,
         "settings_schema": provider_class(name).settings_schema,
         "credentials_schema": provider_class(name).credentials_schema}
        for name in provider_names()
    ]}


STILL_PUBLISHING = {"202": {
    "description": "Still publishing; poll `Location` for the outcome.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Schedule"}}},
    "headers": {"Location": {"description": "The schedule to poll.",
                             "schema": {"type": "string", "format": "uri-reference"}}}}}


@bp.post("/providers/<name>/publish")
@endpoint("publishNow", "Providers", "Publish a page now",
          "Publishes through the default channel if it is of this provider (else the provider's first channel), "
          "through a schedule due now (so it shows in the lists), waiting for the outcome for at most "
          "`PUBLISH_NOW_WAIT` seconds, and answers with the attempt, its schedule nested under `schedule`. When "
          "the provider fails, the answer is a 502 problem with the failed attempt (`publish_log`) and the "
          "schedule, which says whether it will be retried. When the publish is still under way (a slow "
          "provider), the answer is 202 with the schedule and a `Location` to poll.",
          body=s.PublishRequest, response=s.Published, status=201, errors=[
              ProblemResponse(404, "No provider with this name."),
              CONFLICT,
              ProblemResponse(502, "The provider refused or failed.", "PublishFailedProblem"),
              ProblemResponse(503, "The provider is at its limit of concurrent publishes (the page stays queued, "
                                "`schedule_id` names its schedule), or Redis is not answering."),
          ], location=lambda log: url_for(".get_schedule", schedule_id=log.schedule_id),
          responses=STILL_PUBLISHING)
def publish_now(name, body):
    return _published(schedules.publish_now(name, body.page_id))


def _published(attempt):
    """The published attempt; 202 with the schedule while it is still under way (a slow
    provider: poll it); or a 502 problem with the failed attempt and its schedule."""
    if attempt.outcome == "publishing":
        response = render(s.Schedule, attempt.schedule)
        response.status_code = 202
        response.headers["Location"] = url_for(".get_schedule", schedule_id=attempt.schedule_id)
        return response
    if attempt.outcome == "published":
        return attempt.log
    detail = attempt.log.error if attempt.log else "The schedule could not be claimed."
    if attempt.outcome == "retrying":
        detail += f" It will be retried automatically (schedule {attempt.schedule.id})."
    return problem(502, "Publishing failed", detail, "publish-failed", publish_log=attempt.log,
                   schedule=attempt.schedule)


# Channels

CONNECT_REFUSED = ("A 422 names the field the provider refused (`settings.url`, `credentials.secret`...) with its "
                   "reason; nothing is saved.")


@bp.get("/channels")
@endpoint("listChannels", "Channels", "List channels", "Every connected channel, oldest first. Credentials are "
          "never shown.", response=s.ChannelList)
def list_channels():
    return {"items": channels.live_channels()}


def _connected(result):
    channel, revealed = result
    if revealed:
        channel.generated_credentials = revealed  # shown in this answer only
    return channel


@bp.post("/channels")
@rate_limits.channel_connection
@endpoint("createChannel", "Channels", "Connect a channel",
          "Verifies the account with the provider first (a webhook is sent a signed `ping`), then stores it, "
          "its credentials encrypted. " + CONNECT_REFUSED,
          body=s.NewChannel, response=s.ConnectedChannel, status=201, errors=[RATE_LIMITED],
          location=lambda channel: url_for(".get_channel", channel_id=channel.id))
def create_channel(body):
    return _connected(channels.create_channel(body.provider, body.name, body.settings, body.credentials))


@bp.get("/channels/<int:channel_id>")
@endpoint("getChannel", "Channels", "Read a channel", "Its account, status and limits; never its credentials.",
          response=s.Channel, errors=[CHANNEL_NOT_FOUND])
def get_channel(channel_id):
    return channels.get_channel(channel_id)


@bp.patch("/channels/<int:channel_id>")
@endpoint("updateChannel", "Channels", "Rename or reconnect a channel",
          "With `settings` or `credentials`, the channel is verified again like a new one and, when the "
          "provider accepts, marked connected. " + CONNECT_REFUSED,
          body=s.ChannelChange, response=s.ConnectedChannel, errors=[CHANNEL_NOT_FOUND])
def update_channel(channel_id, body):
    changes = {"name": body.name} if body.name is not None else {}
    return _connected(channels.update_channel(channel_id, settings=body.settings, credentials=body.credentials,
                                              **changes))


@bp.delete("/channels/<int:channel_id>")
@endpoint("deleteChannel", "Channels", "Remove a channel",
          "Cancels its queued schedules and erases its credentials; its history stays.",
          errors=[CHANNEL_NOT_FOUND,
                  ProblemResponse(409, "One of its schedules is publishing right now; `schedule_id` names it.")],
          responses={"204": {"description": "Removed."}})
def delete_channel(channel_id):
    channels.delete_channel(channel_id)
    return current_app.response_class(status=204)


@bp.post("/channels/<int:channel_id>/publish")
@endpoint("publishToChannel", "Channels", "Publish a page to a channel now",
          "Like `POST /api/providers/{name}/publish`, to this channel: 201, 202 while still under way, or 502.",
          body=s.PublishRequest, response=s.Published, status=201, errors=[
              CHANNEL_NOT_FOUND, CONFLICT,
              ProblemResponse(502, "The provider refused or failed.", "PublishFailedProblem"),
              ProblemResponse(503, "The channel is at its limit of concurrent publishes (the page stays queued, "
                                "`schedule_id` names its schedule), or Redis is not answering."),
          ], location=lambda log: url_for(".get_schedule", schedule_id=log.schedule_id),
          responses=STILL_PUBLISHING)
def publish_to_channel(channel_id, body):
    return _published(schedules.publish_to_channel(channel_id, body.page_id))


# Reference

@bp.get("/openapi.json")
@endpoint("getOpenAPI", "Reference", "This description", "The OpenAPI 3.1 document of this API.",
          response=s.OpenAPIDocument)
def openapi_document():
    return document(current_app)


# Health

def _health_description(config):
    return ("Checks the database, Redis, and that a worker and the scheduler have shown a heartbeat recently. "
            "Needs no token: without one (a load balancer), the answer is `status` alone, `ok` or `degraded`, "
            f"and such calls are limited to {config['HEALTH_RATE_LIMIT']} per address. With a valid bearer "
            "token (or a signed-in session), the answer is the whole report: each check, the queue, overdue "
            "schedules and channels needing attention.")


TOO_MANY_CALLS = ProblemResponse(429, "Too many calls without a token from this address; `Retry-After` says "
                                      "when to call again.",
                                 headers={"Retry-After": {"description": "Seconds to wait.",
                                                          "schema": {"type": "integer", "minimum": 1}}})


@bp.get("/health")
@endpoint("getHealth", "Health", "Can pagesite publish right now?", _health_description,
          response=s.HealthAnswer, optional_token=True, errors=[TOO_MANY_CALLS],
          also={503: "Something does not; with a token, `problems` says what."})
def get_health():
    caller = security.optional_caller()  # a 401 for a token that is not valid
    if caller is None:
        security.limit_anonymous("HEALTH_RATE_LIMIT", "health")
    healthy, details = health.report()
    return details if caller is not None else health.summary(details), 200 if healthy else 503
