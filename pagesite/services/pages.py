"""Composing pages and reading them back."""

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..errors import ValidationFailed
from ..extensions import db
from ..models import ACTIVE_STATUSES, AttachmentAsset, Page, PageAttachment, PublishLog, Schedule
from .common import MAX_ID, collect_errors, get_or_404, is_unicode_text, paginate


def clean_text(text):
    """The page text as it will be stored, or a 422 on ``text``."""
    if text is None:
        raise ValidationFailed.single("text", "Text is required.")
    if not isinstance(text, str):
        raise ValidationFailed.single("text", "Must be a string.")
    if "\x00" in text:
        raise ValidationFailed.single("text", "Must not contain NUL characters.")
    if not is_unicode_text(text):
        raise ValidationFailed.single("text", "Must be valid Unicode text (it has an unpaired surrogate).")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValidationFailed.single("text", "Text must not be blank.")
    limit = current_app.config["MAX_TEXT_LENGTH"]
    if len(text) > limit:
        raise ValidationFailed.single("text", f"Must be at most {limit} characters (it is {len(text)}).")
    return text


def check_attachment_ids(ids):
    """The attachments for ``ids`` in the given order, or a 422 on ``attachment_ids``."""
    if ids is None:
        return []
    field = "attachment_ids"
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed.single(field, "Must be a list of attachment ids (whole numbers).")
    limit = current_app.config["MAX_ATTACHMENTS"]
    if len(ids) > limit:
        raise ValidationFailed.single(field, f"At most {limit} attachments per page.")
    if len(set(ids)) != len(ids):
        raise ValidationFailed.single(field, "An attachment may appear only once.")
    valid = [i for i in ids if 0 < i <= MAX_ID]
    found = {a.id: a for a in db.session.scalars(select(AttachmentAsset).where(AttachmentAsset.id.in_(valid)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed.single(field, f"Unknown attachment id(s): {', '.join(map(str, missing))}.")
    return [found[i] for i in ids]


def create_page(text, attachment_ids=None):
    text, attachments = collect_errors(lambda: clean_text(text), lambda: check_attachment_ids(attachment_ids))
    page = Page(text=text)
    page.page_attachments = [PageAttachment(attachment=a, position=n) for n, a in enumerate(attachments)]
    db.session.add(page)
    db.session.flush()
    page_id = page.id  # read before the commit expires it
    db.session.commit()
    # Reload with everything a page is shown with, in one query rather than four.
    return db.session.get(Page, page_id, options=PAGE_DETAILS, populate_existing=True)


def _with_details(statement):
    return statement.options(
        selectinload(Page.page_attachments).joinedload(PageAttachment.attachment),
        selectinload(Page.schedules),
    )


# A page is always shown with its attachments and schedules: one query for all three.
PAGE_DETAILS = [joinedload(Page.page_attachments), joinedload(Page.schedules)]


def get_page(page_id):
    return get_or_404(Page, page_id, "page", options=PAGE_DETAILS)


def list_pages(page=None, per_page=None):
    statement = _with_details(select(Page)).order_by(Page.id.desc())
    return paginate(statement, page, per_page, select(func.count(Page.id)))


def page_status(page):
    """``draft`` when never scheduled, else its latest schedule's status."""
    latest = max(page.schedules, key=lambda s: s.id, default=None)
    return latest.status if latest else "draft"


def latest_schedule(page):
    return max(page.schedules, key=lambda s: s.id, default=None)


def page_logs(page_id):
    get_page(page_id)
    return db.session.scalars(
        select(PublishLog).where(PublishLog.page_id == page_id).order_by(PublishLog.id.desc())
    ).all()


def active_schedule(page_id, channel_id):
    """The page's queued or publishing schedule on that channel, if any (at most one)."""
    return db.session.scalar(
        select(Schedule).where(
            Schedule.page_id == page_id, Schedule.channel_id == channel_id, Schedule.status.in_(ACTIVE_STATUSES)
        )
    )
