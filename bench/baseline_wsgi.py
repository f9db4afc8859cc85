"""The web process for the lists, month view and upload benchmarks: pagesite's
app, unchanged, plus the routes that serve their baselines.

``gunicorn bench.baseline_wsgi:app`` serves every pagesite route exactly as
``wsgi:app`` does (same create_app(), settings, hooks and engine), and
``GET /api/bench/raw-schedules``: the same rows as ``GET /api/schedules``
(schedules joined to their pages, same filter, same order, same LIMIT/OFFSET)
and the same count, by a hand-written SQL query through SQLAlchemy Core
(typed with pagesite's UTC timestamp column type), serialised to JSON. Being
under ``/api/``, it passes pagesite's own bearer token check before it runs.
So the baseline and pagesite are measured in the same process, behind the
same HTTP server, worker count and authentication, and the ratio between them
is what pagesite's list path costs over the query.

Bench-only: pagesite itself has no such route.
"""

from flask import current_app, jsonify, request
from sqlalchemy import text

from pagesite import create_app
from pagesite.extensions import csrf, db
from pagesite.storage import get_storage
from pagesite.timeutil import UTCDateTime, isoformat, parse_aware

ROWS = text(
    "SELECT s.id, s.page_id, s.provider, s.scheduled_at, s.status, s.attempts, s.max_attempts, s.last_error, "
    "s.published_at, s.external_id, s.url, s.created_at, s.updated_at, "
    "p.id AS p_id, p.text AS p_text "
    "FROM schedules s JOIN pages p ON p.id = s.page_id WHERE s.status = :status AND s.page_deleted_at IS NULL "
    "ORDER BY s.scheduled_at, s.id LIMIT :limit OFFSET :offset"
).columns(scheduled_at=UTCDateTime, published_at=UTCDateTime, created_at=UTCDateTime, updated_at=UTCDateTime)
COUNT = text("SELECT count(*) FROM schedules WHERE status = :status AND page_deleted_at IS NULL")

app = create_app()


@app.get("/api/bench/raw-schedules")
def bench_raw_schedules():
    status = request.args.get("status", "queued")
    per_page = int(request.args.get("per_page", 20))
    page = int(request.args.get("page", 1))
    with db.engine.connect() as connection:
        total = connection.execute(COUNT, {"status": status}).scalar()
        rows = connection.execute(
            ROWS, {"status": status, "limit": per_page, "offset": (page - 1) * per_page}
        ).all()
    items = [{
        "id": r.id,
        "page_id": r.page_id,
        "provider": r.provider,
        "scheduled_at": isoformat(r.scheduled_at),
        "status": r.status,
        "attempts": r.attempts,
        "max_attempts": r.max_attempts,
        "last_error": r.last_error,
        "published_at": isoformat(r.published_at),
        "external_id": r.external_id,
        "url": r.url,
        "idempotency_key": f"pagesite-schedule-{r.id}",
        "created_at": isoformat(r.created_at),
        "updated_at": isoformat(r.updated_at),
        "page": {"id": r.p_id, "text": r.p_text, "attachments": []},
    } for r in rows]
    return jsonify(items=items, total=total, page=page, per_page=per_page)


MONTH_ROWS = text(
    "SELECT s.id, s.scheduled_at, s.status, p.text FROM schedules s JOIN pages p ON p.id = s.page_id "
    "WHERE s.scheduled_at >= :start AND s.scheduled_at < :end AND s.page_deleted_at IS NULL "
    "ORDER BY s.scheduled_at, s.id"
).columns(scheduled_at=UTCDateTime)


@app.get("/api/bench/raw-calendar")
def bench_raw_calendar():
    """A month as its grid shows it (UTC days): the first three schedules of each day, and how many more."""
    start = parse_aware(request.args["from"])
    end = parse_aware(request.args["to"])
    days = {}
    with db.engine.connect() as connection:
        for r in connection.execute(MONTH_ROWS, {"start": start, "end": end}):
            day = days.setdefault(r.scheduled_at.date().isoformat(), {"items": [], "more": 0})
            if len(day["items"]) < 3:
                day["items"].append({"id": r.id, "scheduled_at": isoformat(r.scheduled_at), "status": r.status,
                                     "text": r.text[:40]})
            else:
                day["more"] += 1
    return jsonify(days=[{"date": d, **v} for d, v in sorted(days.items())])


@app.post("/api/bench/raw-upload")
@csrf.exempt  # like pagesite's API blueprint: a bearer token, no cookie
def bench_raw_upload():
    """The upload baseline: the request body as it arrives, hashed and written to
    pagesite's storage (fsynced, or a completed S3 upload); no form parsing, no
    checks, no row."""
    stored = get_storage(current_app).save(request.stream, ".bin")
    return jsonify(size=stored.size, sha256=stored.sha256), 201


bench_raw_upload.large_body = True  # the upload route's body limit, not the 1 MB for other requests
