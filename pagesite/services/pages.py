"""Composing pages and reading them back."""

from flask import current_app
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import joinedload, selectinload

from .. import queueing
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import (ACTIVE_STATUSES, AttachmentAsset, Channel, Page, PageAttachment, PageFile, PageVersion, PublishLog,
                      Schedule)
from ..timeutil import utcnow
from ..tickets import Ticket
from . import channels
from .attachments import check_alt_text, describe as describe_file
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


def check_attachment_ids(ids, field="attachment_ids"):
    """The attachments for ``ids`` in the given order, or a 422 on ``field``."""
    if ids is None:
        return []
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


def check_attachments(attachment_ids=None, attachments=None, current=None):
    """[(file, description)] in order, or a 422.

    ``attachments`` is [{"id", "alt_text"}]: the page's own description of each
    file; a missing one keeps the page's current description of that file
    (``current``: {id: alt_text}), else takes the file's. ``attachment_ids``
    takes each file's own description. None for both: no attachments."""
    if attachments is None:
        return [(asset, asset.alt_text or "") for asset in check_attachment_ids(attachment_ids)]
    field = "attachments"
    if attachment_ids is not None:
        raise ValidationFailed.single(field, "attachments cannot be sent together with attachment_ids; choose one.")
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise ValidationFailed.single(field, 'Must be a list of {"id", "alt_text"} objects.')
    assets = check_attachment_ids([a.get("id") for a in attachments], field)
    errors, chosen = {}, []
    for n, (asset, item) in enumerate(zip(assets, attachments)):
        given = item.get("alt_text")
        try:
            chosen.append(check_alt_text(given) if given is not None
                          else (current or {}).get(asset.id, asset.alt_text or ""))
        except ValidationFailed as e:
            errors[f"attachments.{n}.alt_text"] = e.errors["alt_text"]
    if errors:
        raise ValidationFailed(errors)
    return list(zip(assets, chosen))


def _links(files):
    return [PageAttachment(attachment=asset, alt_text=alt, position=n) for n, (asset, alt) in enumerate(files)]


def sent_problems(channel, text, assets, page_id=0, versioned=False):
    """What ``channel`` would refuse of ``text`` with ``assets``, each message naming
    the channel (and, for a channel's own version, saying so)."""
    problems = channels.limit_problems(channel, channels.page_data(text, assets, page_id))
    return [f"{m} (in its version of the page)" for m in problems] if versioned else problems


def check_versions(versions, dropping=False):
    """{channel id: text} from ``versions`` ([{"channel_id", "text"}]), or a 422 naming
    each bad entry (``versions.<n>.<field>``). With ``dropping``, a null text stands
    for "drop this channel's version" (an edit) and comes back as None."""
    if versions is None:
        return {}
    if not isinstance(versions, list):
        raise ValidationFailed.single("versions", "Must be a list of {channel_id, text}.")
    errors, found = {}, {}
    live = {c.id for c in channels.live_channels()}
    for n, version in enumerate(versions):
        channel_id = version.get("channel_id") if isinstance(version, dict) else None
        if not isinstance(channel_id, int) or isinstance(channel_id, bool) or channel_id not in live:
            errors[f"versions.{n}.channel_id"] = [f"No channel with id {channel_id!r}."]
            continue
        if channel_id in found:
            errors[f"versions.{n}.channel_id"] = [f"Channel {channel_id} has a version already in this list."]
            continue
        text = version.get("text")
        if text is None and dropping:
            found[channel_id] = None
            continue
        try:
            found[channel_id] = clean_text(text)
        except ValidationFailed as e:
            errors[f"versions.{n}.text"] = e.errors["text"]
    if errors:
        raise ValidationFailed(errors)
    return found


def _check_link_card(value):
    if not isinstance(value, bool):
        raise ValidationFailed.single("link_card", "Must be true or false.")
    return value


def create_page(text, attachment_ids=None, attachments=None, descriptions=None, commit=True, versions=None,
                link_card=True):
    """A new page; ``attachments`` ([{"id", "alt_text"}]) or ``attachment_ids``, in order.
    ``link_card`` False: no card is built for its first link (see providers/link_cards.py).

    ``descriptions`` ({file id: text}) first sets those files' own descriptions, in
    the same transaction. With ``commit`` False the page is only flushed: the
    caller commits it with what else it writes (composing: its schedules), or
    rolls it all back."""
    for attachment_id, alt_text in (descriptions or {}).items():
        describe_file(attachment_id, alt_text, commit=False)
    text, files, own = collect_errors(lambda: clean_text(text), lambda: check_attachments(attachment_ids, attachments),
                                      lambda: check_versions(versions))
    page = Page(text=text, link_card=_check_link_card(link_card))
    page.page_attachments = _links(files)
    page.versions = [PageVersion(channel_id=channel_id, text=words) for channel_id, words in own.items()]
    db.session.add(page)
    db.session.flush()
    if not commit:
        return page
    page_id = page.id  # read before the commit expires it
    db.session.commit()
    return _reload(page_id)


def _reload(page_id):
    # Reload with everything a page is shown with, in one query rather than four.
    return db.session.get(Page, page_id, options=PAGE_DETAILS, populate_existing=True)


def _with_details(statement):
    return statement.options(
        selectinload(Page.page_attachments).joinedload(PageAttachment.attachment),
        selectinload(Page.schedules),
        selectinload(Page.versions),
    )


# A page is always shown with its attachments, schedules and versions: one query for the first
# three (page, links, schedules), one more for its versions.
PAGE_DETAILS = [joinedload(Page.page_attachments), joinedload(Page.schedules), selectinload(Page.versions)]


def get_page(page_id):
    """A page; a deleted one only while it has published history (then with ``deleted_at``)."""
    page = get_or_404(Page, page_id, "page", options=PAGE_DETAILS)
    if page.deleted_at is not None and not any(s.status == "published" for s in page.schedules):
        raise NotFound(f"No page with id {page_id}.")
    return page


def live_page(page_id):
    """A page that is not deleted, or a 404: only such a page can be changed or scheduled."""
    page = get_page(page_id)
    if page.deleted_at is not None:
        raise NotFound(f"Page {page_id} was deleted.")
    return page


# A draft is a page nothing is planned or done with: no queued, publishing or published schedule.
NOT_DRAFT_STATUSES = ("queued", "publishing", "published")


def _is_draft():
    return ~exists().where(Schedule.page_id == Page.id, Schedule.status.in_(NOT_DRAFT_STATUSES))


def list_pages(page_number=None, per_page=None, status=None):
    """Pages, newest first; ``status="draft"`` keeps the drafts."""
    if status not in (None, "", "all", "draft"):
        raise ValidationFailed.single("status", "Must be all or draft.")
    filters = [Page.deleted_at.is_(None), *([_is_draft()] if status == "draft" else [])]
    statement = _with_details(select(Page)).where(*filters).order_by(Page.id.desc())
    return paginate(statement, page_number, per_page, select(func.count(Page.id)).where(*filters))


def duplicate_page(page_id):
    """A new draft with the same text, attachments (in the same order) and versions."""
    original = get_page(page_id)
    live = {c.id for c in channels.live_channels()}  # a removed channel's version is left behind
    return create_page(original.text, attachments=[{"id": f.id, "alt_text": f.alt_text} for f in original.attachments],
                       versions=[{"channel_id": v.channel_id, "text": v.text} for v in original.versions
                                 if v.channel_id in live], link_card=original.link_card)


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


# Editing and deleting. Both begin their transaction with a write, so that a
# worker's claim of one of the page's schedules and the change are serialised:
# a claim that got in first shows as "publishing" (409); one that comes after
# reads the new content. The worker reads the page and its attachments in one
# statement under its claim, so a publish never sends a mix of old and new.

def _live_schedules(page_id):
    """The page's queued and publishing schedules (their rows stay locked until
    the change commits, where the database can lock rows)."""
    return db.session.execute(
        select(Schedule.id, Schedule.status, Schedule.outcome_unknown, Schedule.next_attempt_at,
               Channel.name.label("channel_name"))
        .join(Channel, Channel.id == Schedule.channel_id)
        .where(Schedule.page_id == page_id, Schedule.status.in_(ACTIVE_STATUSES))
        .with_for_update(of=Schedule)
    ).all()


def _publishing(page_id):
    """The id of the page's schedule that is publishing, if any."""
    return next((r.id for r in _live_schedules(page_id) if r.status == "publishing"), None)


def _still_publishing(page_id, schedule_id, doing):
    return Conflict(f"Schedule {schedule_id} of page {page_id} is publishing right now; {doing} once it has finished.",
                    schedule_id=schedule_id)


def update_page(page_id, text=None, attachment_ids=None, attachments=None, versions=None, link_card=None):
    """Change a page's text, attachments and/or versions (same rules as composing,
    and the limits of every channel it is queued for, each on what it will be
    sent); its queued schedules then publish the new content. ``versions`` sets
    the channels named (a null text drops that channel's version) and keeps the
    others. A 409 while one of its schedules is publishing."""
    page = live_page(page_id)
    if text is None and attachment_ids is None and attachments is None and versions is None and link_card is None:
        return page  # nothing to change
    card = page.link_card if link_card is None else _check_link_card(link_card)
    current = {link.attachment_id: link.alt_text for link in page.page_attachments}
    new_text, files, changed = collect_errors(
        lambda: page.text if text is None else clean_text(text),
        lambda: None if attachment_ids is None and attachments is None
        else check_attachments(attachment_ids, attachments, current),
        lambda: check_versions(versions, dropping=True),
    )
    if files is None:
        files = [(link.attachment, link.alt_text) for link in page.page_attachments]
    own = {v.channel_id: v.text for v in page.versions}
    own.update(changed)
    own = {channel_id: words for channel_id, words in own.items() if words is not None}
    queued = [s.channel for s in page.schedules if s.status == "queued"]
    assets = [PageFile(asset, alt) for asset, alt in files]
    problems = [m for channel in queued for m in sent_problems(channel, own.get(channel.id, new_text), assets,
                                                                page.id, versioned=channel.id in own)]
    if problems:
        raise ValidationFailed({"text": problems})
    links = [{"page_id": page.id, "attachment_id": asset.id, "alt_text": alt, "position": n}
             for n, (asset, alt) in enumerate(files)]
    page_id = page.id
    db.session.rollback()  # end the reads (touch no loaded object after this): the change starts with its write

    found = db.session.execute(
        update(Page).where(Page.id == page_id, Page.deleted_at.is_(None)).values(updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if found.rowcount != 1:
        db.session.rollback()
        raise NotFound(f"Page {page_id} was deleted.")
    live = _live_schedules(page_id)
    busy = next((r.id for r in live if r.status == "publishing"), None)
    if busy is not None:
        db.session.rollback()
        raise _still_publishing(page_id, busy, "edit it")
    unknown = next((r for r in live if r.outcome_unknown), None)
    if unknown is not None:
        db.session.rollback()
        # Its retry must send what the unanswered attempt sent, under the same key: the
        # network may already have that post, and a different text would be a second one.
        raise Conflict(
            f"Page {page_id} may already be on {unknown.channel_name}: the last attempt of schedule {unknown.id} "
            "got no answer, and its retry must send the same text and attachments. Edit the page once that retry "
            "has an answer, or cancel the schedule to edit it now.", schedule_id=unknown.id)
    db.session.execute(update(Page).where(Page.id == page_id).values(text=new_text, link_card=card)
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(PageAttachment).where(PageAttachment.page_id == page_id)
                       .execution_options(synchronize_session=False))
    if links:  # plain rows: the session may still hold the old links under the same keys
        db.session.execute(insert(PageAttachment), links)
    if changed:
        db.session.execute(delete(PageVersion).where(PageVersion.page_id == page_id)
                           .execution_options(synchronize_session=False))
        if own:
            db.session.execute(insert(PageVersion), [{"page_id": page_id, "channel_id": channel_id, "text": words}
                                                     for channel_id, words in own.items()])
    db.session.commit()
    return _reload(page_id)


def delete_page(page_id):
    """Delete a page: its queued schedules are canceled and it leaves every list;
    a page with published history stays readable by id. A 409 while publishing."""
    page = live_page(page_id)
    page_id = page.id
    job_ids = [queueing.publish_job_id(Ticket.of(s)) for s in page.schedules if s.status == "queued"]
    db.session.rollback()  # end the reads (touch no loaded object after this): the change starts with its write

    now = utcnow()
    # Cancel first, then look: a claim that got in before the cancel shows as publishing.
    db.session.execute(
        update(Schedule).where(Schedule.page_id == page_id, Schedule.status == "queued")
        .values(status="canceled", next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False))
    busy = _publishing(page_id)
    if busy is not None:
        db.session.rollback()
        raise _still_publishing(page_id, busy, "delete it")
    found = db.session.execute(
        update(Page).where(Page.id == page_id, Page.deleted_at.is_(None)).values(deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(Schedule).where(Schedule.page_id == page_id, Schedule.page_deleted_at.is_(None))
        .values(page_deleted_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    if found.rowcount != 1:
        raise NotFound(f"Page {page_id} was deleted.")
    for job_id in job_ids:
        queueing.withdraw(job_id)
