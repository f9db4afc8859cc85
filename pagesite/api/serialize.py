"""How models look in JSON. Every timestamp carries an explicit offset."""

from flask import url_for

from ..services.pages import page_status
from ..timeutil import isoformat


def attachment(asset):
    return {
        "id": asset.id,
        "filename": asset.filename,
        "content_type": asset.content_type,
        "size_bytes": asset.size_bytes,
        "sha256": asset.sha256,
        "alt_text": asset.alt_text,
        "width": asset.width,
        "height": asset.height,
        "url": url_for("api.attachment_file", attachment_id=asset.id),
        "created_at": isoformat(asset.created_at),
    }


def page_summary(page):
    return {
        "id": page.id,
        "text": page.text,
        "attachments": [attachment(a) for a in page.attachments],
    }


def channel_ref(item):
    return {"id": item.id, "name": item.name, "provider": item.provider}


def schedule(item, with_page=True):
    data = {
        "id": item.id,
        "page_id": item.page_id,
        "provider": item.provider,
        "channel": channel_ref(item.channel),
        "scheduled_at": isoformat(item.scheduled_at),
        "status": item.status,
        "attempts": item.attempts,
        "max_attempts": item.attempt_limit,
        "last_error": item.last_error,
        "published_at": isoformat(item.published_at),
        "external_id": item.external_id,
        "url": item.url,
        "idempotency_key": item.idempotency_key,
        "created_at": isoformat(item.created_at),
        "updated_at": isoformat(item.updated_at),
    }
    if with_page:
        data["page"] = page_summary(item.page)
    return data


def page(item, with_schedules=True):
    data = {
        "id": item.id,
        "text": item.text,
        "attachments": [attachment(a) for a in item.attachments],
        "status": page_status(item),
        "created_at": isoformat(item.created_at),
        "updated_at": isoformat(item.updated_at),
    }
    if with_schedules:
        data["schedules"] = [schedule(s, with_page=False) for s in item.schedules]
    return data


def publish_log(entry):
    return {
        "id": entry.id,
        "page_id": entry.page_id,
        "schedule_id": entry.schedule_id,
        "channel_id": entry.channel_id,
        "provider": entry.provider,
        "attempt": entry.attempt,
        "status": entry.status,
        "external_id": entry.external_id,
        "url": entry.url,
        "error": entry.error,
        "duration_ms": entry.duration_ms,
        "created_at": isoformat(entry.created_at),
    }


def listing(result, render):
    return {
        "items": [render(item) for item in result.items],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
    }
