"""The OpenAPI 3.1 description of the JSON API, built as plain data.

``document(config)`` returns the whole description; the limits in it (page
sizes, text length, attachments per page) come from the app's config, so the
document says what this server enforces. tests/test_openapi.py fails when a
route of the ``api`` blueprint is missing here.
"""

from ..models import LOG_STATUSES, SCHEDULE_STATUSES
from ..services.attachments import EXTENSIONS, MAX_ALT_TEXT
from ..services.common import MAX_ID
from .problems import PROBLEM_TYPE_BASE

JSON = "application/json"
PROBLEM = "application/problem+json"
VERSION = "1.0.0"


# Small builders for JSON Schema.

def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema):
    """``schema`` or null, in the 3.1 style (a type list, or oneOf for a $ref)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def obj(properties, required=None, description=None, closed=True):
    """An object schema; every property is required unless ``required`` says otherwise."""
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def array(items, **extra):
    return {"type": "array", "items": items, **extra}


def integer(description=None, **extra):
    schema = {"type": "integer", **extra}
    if description:
        schema["description"] = description
    return schema


def string(description=None, **extra):
    schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def timestamp(description):
    return string(description + " (RFC 3339, always with an offset, in UTC).", format="date-time")


ID = integer(minimum=1, maximum=MAX_ID)


def listing(item, what):
    return obj(
        {
            "items": array(ref(item)),
            "total": integer(f"How many {what} there are in all.", minimum=0),
            "page": integer("This page's number, from 1.", minimum=1),
            "per_page": integer("The page size used.", minimum=1),
        },
        description=f"One page of {what}.",
    )


# Building blocks of operations.

def query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def path_id(name, what):
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": f"The {what}'s id."}


def paging_params(config):
    return [
        query("page", integer(minimum=1, maximum=1_000_000, default=1), "Page number, from 1."),
        query("per_page", integer(minimum=1, maximum=config["PER_PAGE_MAX"], default=config["PER_PAGE_DEFAULT"]),
              "Items per page."),
    ]


def json_body(schema, description):
    return {"required": True, "description": description, "content": {JSON: {"schema": schema}}}


def ok(schema, description, status="200", headers=None):
    response = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return {status: response}


def created(schema, description):
    return ok(schema, description, "201", headers={
        "Location": {"description": "Where the new resource can be read.", "schema": string(format="uri-reference")},
    })


def problem(status, description, schema="Problem", headers=None):
    response = {"description": description, "content": {PROBLEM: {"schema": ref(schema)}}}
    if headers:
        response["headers"] = headers
    return {str(status): response}


UNAUTHORIZED = problem(401, "No valid bearer token was sent.", headers={
    "WWW-Authenticate": {"description": "The scheme to authenticate with.", "schema": string(pattern="^Bearer")},
})
BAD_JSON = problem(400, "The body is not valid JSON.")
NOT_JSON = problem(415, "The body is not sent as application/json.")
INVALID = problem(422, "A field is wrong; `errors` names each field and what is wrong with it.", "ValidationProblem")
TOO_LARGE = problem(413, "The request is larger than this server accepts.", "ValidationProblem")
NOT_FOUND = problem(404, "No such resource.")
QUEUE_DOWN = problem(503, "The job queue (Redis) is not answering; try again shortly.")


def responses(*parts):
    merged = {}
    for part in parts:
        merged.update(part)
    return merged


def operation(op_id, tag, summary, description, responses_, parameters=None, body=None, public=False):
    op = {"operationId": op_id, "tags": [tag], "summary": summary, "description": description}
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = body
    if public:
        op["security"] = []
    else:
        responses_ = responses(responses_, UNAUTHORIZED)
    op["responses"] = dict(sorted(responses_.items()))
    return op


def json_operation(*args, body, responses_, **kwargs):
    """An operation that reads a JSON object: it can also answer 400, 413, 415 and 422."""
    return operation(*args, body=body, responses_=responses(responses_, BAD_JSON, TOO_LARGE, NOT_JSON, INVALID),
                     **kwargs)


# The document.

def schemas(config):
    content_types = list(EXTENSIONS)
    attachment = obj({
        "id": ID,
        "filename": string("The uploaded file's name, cleaned: for display only."),
        "content_type": string("The type read from the file's bytes.", enum=content_types),
        "size_bytes": integer(minimum=1),
        "sha256": string("SHA-256 of the bytes, in hex.", pattern="^[0-9a-f]{64}$"),
        "alt_text": string("The description read to people who cannot see the image.", maxLength=MAX_ALT_TEXT),
        "width": nullable(integer("Pixels; null for videos.", minimum=1)),
        "height": nullable(integer("Pixels; null for videos.", minimum=1)),
        "url": string("Where the bytes are served.", format="uri-reference"),
        "created_at": timestamp("When it was uploaded"),
    }, description="An uploaded image or video.")
    attachments = array(ref("Attachment"), description="In the order they appear on the page.")

    schedule_fields = {
        "id": ID,
        "page_id": ID,
        "provider": string("The provider it publishes through (its channel's)."),
        "channel": ref("ChannelRef"),
        "scheduled_at": timestamp("When it is due"),
        "status": string(enum=list(SCHEDULE_STATUSES), description=(
            "queued: waiting for its time; publishing: an attempt is running; published; "
            "failed: no attempts left (it can be retried); canceled.")),
        "attempts": integer("Attempts made so far.", minimum=0),
        "max_attempts": integer("Attempts allowed before it fails.", minimum=0),
        "last_error": nullable(string("Why the last attempt failed.")),
        "published_at": nullable(timestamp("When it was published")),
        "external_id": nullable(string("The provider's id for the post.")),
        "url": nullable(string("The post's address at the provider.")),
        "idempotency_key": string("Sent to the provider on every attempt, so it posts once."),
        "created_at": timestamp("When it was created"),
        "updated_at": timestamp("When it last changed"),
    }
    page_fields = {
        "id": ID,
        "text": string(minLength=1, maxLength=config["MAX_TEXT_LENGTH"]),
        "attachments": attachments,
    }
    nullable_age = nullable({"type": "number", "minimum": 0, "description": "Seconds since the last heartbeat."})
    check = obj({"ok": {"type": "boolean"}, "error": string("Why the check failed.")}, required=["ok"])

    return {
        "Attachment": attachment,
        "AttachmentList": listing("Attachment", "attachments"),
        "PageSummary": obj(page_fields, description="A page as shown inside a schedule."),
        "Page": obj({
            **page_fields,
            "status": string(enum=["draft", *SCHEDULE_STATUSES],
                             description="draft when never scheduled, else the status of its latest schedule."),
            "created_at": timestamp("When it was created"),
            "updated_at": timestamp("When it last changed"),
            "schedules": array(ref("ScheduleSummary"), description="Its schedules, oldest first."),
        }, description="A page: text and up to "
                       f"{config['MAX_ATTACHMENTS']} attachments, and its schedules."),
        "PageList": listing("Page", "pages"),
        "ChannelRef": obj({"id": ID, "name": string("The channel's name."),
                           "provider": string("Its provider.")}, description="The channel a schedule publishes to."),
        "ScheduleSummary": obj(schedule_fields, description="A schedule, without its page."),
        "Schedule": obj({**schedule_fields, "page": ref("PageSummary")},
                        description="A page to be published through a provider at a time."),
        "ScheduleList": listing("Schedule", "schedules"),
        "PublishLog": obj({
            "id": ID,
            "page_id": ID,
            "schedule_id": nullable(ID),
            "channel_id": nullable(ID),
            "provider": string(),
            "attempt": integer("Which attempt of its schedule this was, from 1.", minimum=1),
            "status": string(enum=list(LOG_STATUSES)),
            "external_id": nullable(string("The provider's id for the post.")),
            "url": nullable(string("The post's address at the provider.")),
            "error": nullable(string("Why the attempt failed.")),
            "duration_ms": nullable(integer("How long the provider took.", minimum=0)),
            "created_at": timestamp("When the attempt ended"),
        }, description="One publishing attempt and its outcome."),
        "PublishLogList": obj({"items": array(ref("PublishLog"))}, description="Newest first."),
        "Provider": obj({
            "name": string(), "label": string("Its name for people."),
            "default": {"type": "boolean", "description": "Whether the default channel is of this provider."},
            "settings_schema": {"type": "object", "description": "JSON schema of a channel's settings."},
            "credentials_schema": {"type": "object", "description": "JSON schema of a channel's credentials; "
                                                                    "`secret` fields are never shown again."},
        }),
        "ProviderList": obj({"items": array(ref("Provider"))}),
        "Published": obj({"publish_log": ref("PublishLog"), "schedule": ref("ScheduleSummary")},
                         description="The attempt that published the page, and its schedule."),
        "Health": obj({
            "status": string(enum=["ok", "unavailable"]),
            "problems": array(string(), description="Why it is unavailable; empty when ok."),
            "checked_at": timestamp("When the report was made"),
            "checks": obj({
                "database": check,
                "redis": check,
                "worker": obj({"ok": {"type": "boolean"}, "processes": integer(minimum=0),
                               "last_heartbeat_age": nullable_age}),
                "scheduler": obj({"ok": {"type": "boolean"}, "last_heartbeat_age": nullable_age}),
            }, required=["database", "redis"]),
            "schedules": obj({
                "due_unclaimed": integer("Queued schedules past their time.", minimum=0),
                "publishing": integer("Attempts running now.", minimum=0),
                "oldest_overdue_id": nullable(integer("The oldest due, unclaimed schedule.", minimum=1)),
                "oldest_overdue_at": nullable(timestamp("The oldest due, unclaimed schedule's time")),
                "oldest_overdue_seconds": nullable({"type": "number"}),
            }, description="Present when the database answers."),
            "queue_depth": integer("Jobs waiting in the queue; present when Redis answers.", minimum=0),
            "channels_needing_attention": array(
                obj({"id": ID, "name": string(), "provider": string()}),
                description="Channels whose network refused their credentials: reconnect them. "
                            "Present when the database answers."),
        }, required=["status", "problems", "checked_at", "checks"],
            description="Whether pagesite can publish right now."),
        "Problem": obj({
            "type": string("A URI naming the kind of problem, or about:blank.", format="uri-reference",
                           examples=[PROBLEM_TYPE_BASE + "validation-failed"]),
            "title": string("A short summary of the kind of problem."),
            "status": integer("The HTTP status code.", minimum=400, maximum=599),
            "detail": string("What went wrong this time."),
            "instance": string("The path of the request.", format="uri-reference"),
            "errors": {"type": "object", "additionalProperties": array(string(), minItems=1),
                       "description": "Field name -> what is wrong with it (422 and 413)."},
            "schedule_id": integer("The schedule involved (409, 503).", minimum=1),
            "schedule_status": string("The schedule's current status (409).", enum=list(SCHEDULE_STATUSES)),
            "publish_log": nullable(ref("PublishLog")),
            "schedule": ref("ScheduleSummary"),
        }, required=["type", "title", "status", "detail", "instance"],
            description="An RFC 9457 problem details object; every error of the API is one."),
        "ValidationProblem": {
            "allOf": [ref("Problem"), {"required": ["errors"]}],
            "description": "A problem that names the fields at fault in `errors`.",
        },
        "PublishFailedProblem": {
            "allOf": [ref("Problem"), {"required": ["schedule"]}],
            "description": "The provider refused; `publish_log` is the failed attempt, `schedule` says whether "
                           "it will be retried.",
        },
    }


def paths(config):
    paging = paging_params(config)
    attachment_id = path_id("attachment_id", "attachment")
    page_id = path_id("page_id", "page")
    schedule_id = path_id("schedule_id", "schedule")
    content_types = list(EXTENSIONS)

    alt_text = string(f"A description of the image, at most {MAX_ALT_TEXT} characters.", maxLength=MAX_ALT_TEXT)
    upload_body = {
        "required": True,
        "content": {"multipart/form-data": {
            "schema": obj({
                "file": string("The image or video. Its type is read from its bytes: PNG, JPEG, GIF, WebP or MP4.",
                               contentMediaType="application/octet-stream"),
                "alt_text": alt_text,
            }, required=["file"]),
            "encoding": {"file": {"contentType": "application/octet-stream"}},
        }},
    }
    upload_body["content"]["multipart/form-data"]["schema"]["properties"]["file"]["format"] = "binary"

    when = string("An ISO 8601 date-time with an offset, in the future.", format="date-time")
    page_id_field = integer("The page to publish.", minimum=1)

    return {
        "/api/attachment": {
            "post": operation(
                "uploadAttachment", "Attachments", "Upload an image or video",
                "The type is decided by the file's bytes, never by its name. Images may be at most "
                f"{config['MAX_IMAGE_BYTES'] // (1024 * 1024)} MB and {config['MAX_IMAGE_PIXELS']:,} pixels, "
                f"videos at most {config['MAX_VIDEO_BYTES'] // (1024 * 1024)} MB.",
                responses(created(ref("Attachment"), "Stored."), INVALID, TOO_LARGE),
                body=upload_body,
            ),
            "get": operation(
                "listAttachments", "Attachments", "List attachments", "Newest first.",
                ok(ref("AttachmentList"), "One page of attachments.") | INVALID,
                parameters=paging,
            ),
        },
        "/api/attachment/{attachment_id}": {
            "get": operation(
                "getAttachment", "Attachments", "Read an attachment", "Its details; the bytes are at `url`.",
                ok(ref("Attachment"), "The attachment.") | NOT_FOUND,
                parameters=[attachment_id],
            ),
            "patch": json_operation(
                "describeAttachment", "Attachments", "Describe an attachment",
                "Sets its alt text. An omitted or null `alt_text` clears it.",
                parameters=[attachment_id],
                body=json_body(obj({"alt_text": nullable(alt_text)}, required=[], closed=False),
                               "The new description."),
                responses_=ok(ref("Attachment"), "The attachment, described.") | NOT_FOUND,
            ),
        },
        "/api/attachment/{attachment_id}/file": {
            "get": operation(
                "getAttachmentFile", "Attachments", "Download an attachment's bytes",
                "Served with its sniffed content type, `X-Content-Type-Options: nosniff` and a sandboxing "
                "Content-Security-Policy. Supports conditional (ETag) and range requests.",
                responses(
                    {"200": {"description": "The bytes.", "content": {
                        t: {"schema": string(contentMediaType=t)} for t in content_types}},
                     "206": {"description": "The requested range of the bytes.", "content": {
                         t: {"schema": string(contentMediaType=t)} for t in content_types}},
                     "304": {"description": "Not modified since the ETag sent in If-None-Match."},
                     "416": {"description": "The requested range is outside the file."}},
                    NOT_FOUND,
                ),
                parameters=[attachment_id],
            ),
        },
        "/api/pages": {
            "post": json_operation(
                "createPage", "Pages", "Compose a page",
                f"Text of at most {config['MAX_TEXT_LENGTH']} characters (surrounding blanks are trimmed) and "
                f"up to {config['MAX_ATTACHMENTS']} uploaded attachments, in the order given.",
                body=json_body(obj({
                    "text": string(minLength=1, maxLength=config["MAX_TEXT_LENGTH"]),
                    "attachment_ids": nullable(array(ID, maxItems=config["MAX_ATTACHMENTS"], uniqueItems=True)),
                }, required=["text"], closed=False), "The page."),
                responses_=created(ref("Page"), "Created."),
            ),
            "get": operation(
                "listPages", "Pages", "List pages", "Newest first.",
                ok(ref("PageList"), "One page of pages.") | INVALID,
                parameters=paging,
            ),
        },
        "/api/pages/{page_id}": {
            "get": operation(
                "getPage", "Pages", "Read a page", "With its attachments and schedules.",
                ok(ref("Page"), "The page.") | NOT_FOUND,
                parameters=[page_id],
            ),
        },
        "/api/pages/{page_id}/logs": {
            "get": operation(
                "getPageLogs", "Pages", "A page's publishing attempts", "Every attempt, newest first.",
                ok(ref("PublishLogList"), "The attempts.") | NOT_FOUND,
                parameters=[page_id],
            ),
        },
        "/api/schedules": {
            "post": json_operation(
                "createSchedule", "Schedules", "Schedule a page",
                "Publishes the page through `provider` at `scheduled_at`, or as soon as a worker is free when "
                "it is omitted. A page has at most one queued or publishing schedule per provider.",
                body=json_body(obj({
                    "page_id": integer("The page to publish.", minimum=1),
                    "scheduled_at": nullable(when),
                    "provider": nullable(string("A provider name, or `default` (through the default channel).")),
                    "channel_id": nullable(integer("The channel to publish to (else the default channel).",
                                                   minimum=1)),
                }, required=["page_id"], closed=False), "What to publish, when and where."),
                responses_=responses(
                    created(ref("Schedule"), "Scheduled."),
                    problem(409, "The page already has a live schedule for this provider; "
                                 "`schedule_id` names it."),
                    QUEUE_DOWN,
                ),
            ),
            "get": operation(
                "listSchedules", "Schedules", "List schedules", "By time, then id.",
                ok(ref("ScheduleList"), "One page of schedules.") | INVALID,
                parameters=[
                    query("status", string(enum=["all", *SCHEDULE_STATUSES], default="all"),
                          "Only schedules with this status."),
                    query("page_id", integer(minimum=1, maximum=MAX_ID), "Only this page's schedules."),
                    *paging,
                ],
            ),
        },
        "/api/schedules/{schedule_id}": {
            "get": operation(
                "getSchedule", "Schedules", "Read a schedule", "With its page.",
                ok(ref("Schedule"), "The schedule.") | NOT_FOUND,
                parameters=[schedule_id],
            ),
            "patch": json_operation(
                "reschedule", "Schedules", "Move a schedule", "Only a queued schedule can be moved.",
                parameters=[schedule_id],
                body=json_body(obj({"scheduled_at": when}, closed=False), "The new time."),
                responses_=responses(
                    ok(ref("Schedule"), "Moved."), NOT_FOUND,
                    problem(409, "The schedule is no longer queued; `schedule_status` says what it is."),
                    QUEUE_DOWN,
                ),
            ),
        },
        "/api/schedules/{schedule_id}/cancel": {
            "post": operation(
                "cancelSchedule", "Schedules", "Cancel a schedule",
                "Only a queued schedule can be canceled; it is then never published.",
                responses(
                    ok(ref("Schedule"), "Canceled."), NOT_FOUND,
                    problem(409, "The schedule is no longer queued; `schedule_status` says what it is."),
                    QUEUE_DOWN,
                ),
                parameters=[schedule_id],
            ),
        },
        "/api/schedules/{schedule_id}/retry": {
            "post": operation(
                "retrySchedule", "Schedules", "Retry a failed schedule",
                "Queues it again, due now, with a fresh set of attempts.",
                responses(
                    ok(ref("Schedule"), "Queued again."), NOT_FOUND,
                    problem(409, "The schedule has not failed, or the page has another live schedule for "
                                 "this provider."),
                    QUEUE_DOWN,
                ),
                parameters=[schedule_id],
            ),
        },
        "/api/providers": {
            "get": operation(
                "listProviders", "Providers", "List providers", "Every provider pages can be published through.",
                ok(ref("ProviderList"), "The providers."),
            ),
        },
        "/api/providers/{name}/publish": {
            "post": json_operation(
                "publishNow", "Providers", "Publish a page now",
                "Publishes synchronously, through a schedule due now (so it shows in the lists). When the "
                "provider fails, the answer is a 502 problem with the failed attempt and the schedule, which "
                "says whether it will be retried.",
                parameters=[{"name": "name", "in": "path", "required": True, "schema": string(minLength=1),
                             "description": "A provider name, or `default`."}],
                body=json_body(obj({"page_id": page_id_field}, closed=False), "The page to publish."),
                responses_=responses(
                    created(ref("Published"), "Published."),
                    problem(404, "No provider with this name."),
                    problem(409, "The page already has a live schedule for this provider; "
                                 "`schedule_id` names it."),
                    problem(502, "The provider refused or failed.", "PublishFailedProblem"),
                    problem(503, "The provider is at its limit of concurrent publishes (the page stays queued, "
                                 "`schedule_id` names its schedule), or Redis is not answering."),
                ),
            ),
        },
        "/api/health": {
            "get": operation(
                "getHealth", "Health", "Can pagesite publish right now?",
                "Checks the database, Redis, and that a worker and the scheduler have shown a heartbeat "
                "recently. Needs no token, for load balancers and monitors.",
                responses(ok(ref("Health"), "Everything works."),
                          ok(ref("Health"), "Something does not; `problems` says what.", "503")),
                public=True,
            ),
        },
        "/api/openapi.json": {
            "get": operation(
                "getOpenAPI", "Reference", "This description", "The OpenAPI 3.1 document of this API.",
                ok({"type": "object"}, "The document."),
            ),
        },
    }


TAGS = [
    {"name": "Attachments", "description": "Images and videos to put on pages."},
    {"name": "Pages", "description": "Text and attachments, composed once and published anywhere."},
    {"name": "Schedules", "description": "When and where a page is published, and how it went."},
    {"name": "Providers", "description": "The places pages are published to."},
    {"name": "Health", "description": "For monitoring."},
    {"name": "Reference", "description": "This description of the API."},
]


def document(config):
    """The OpenAPI 3.1 document for the app with this ``config``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pagesite API",
            "version": VERSION,
            "summary": "Compose pages, schedule them, publish them through providers.",
            "description": (
                "Every request except `GET /api/health` needs a bearer token: "
                "`Authorization: Bearer <token>`. Every timestamp carries an explicit offset (UTC, `Z`). "
                "Every error is an RFC 9457 problem (`application/problem+json`); a 422 or 413 names the "
                "fields at fault in `errors`."
            ),
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": TAGS,
        "security": [{"bearerAuth": []}],
        "paths": paths(config),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token, sent as `Authorization: Bearer <token>`."},
            },
            "schemas": schemas(config),
        },
    }
