"""Snippets: saved blocks of text (hashtag groups, sign-offs) that Compose inserts
at the cursor. Their text follows the page text's rules."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..errors import ValidationFailed
from ..extensions import db
from ..models import Snippet
from .common import collect_errors, get_or_404, is_unicode_text
from .pages import clean_text

MAX_NAME = 100
MAX_SNIPPETS = 200


def list_snippets():
    return db.session.scalars(select(Snippet).order_by(func.lower(Snippet.name), Snippet.id)).all()


def get_snippet(snippet_id):
    return get_or_404(Snippet, snippet_id, "snippet")


def _name(name):
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed.single("name", "A name is required (how you will find it in Compose).")
    name = " ".join(name.split())
    if len(name) > MAX_NAME or not is_unicode_text(name):
        raise ValidationFailed.single("name", f"Must be text of at most {MAX_NAME} characters.")
    return name


def _save(snippet):
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed.single("name", f"A snippet named “{snippet.name}” exists already; choose "
                                              "another name.") from None
    return snippet


def create_snippet(name, text):
    name, text = collect_errors(lambda: _name(name), lambda: clean_text(text))
    if db.session.scalar(select(func.count()).select_from(Snippet)) >= MAX_SNIPPETS:
        raise ValidationFailed.single("name", f"At most {MAX_SNIPPETS} snippets; delete one first.")
    snippet = Snippet(name=name, text=text)
    db.session.add(snippet)
    return _save(snippet)


def update_snippet(snippet_id, name=None, text=None):
    snippet = get_snippet(snippet_id)
    new_name, new_text = collect_errors(lambda: snippet.name if name is None else _name(name),
                                        lambda: snippet.text if text is None else clean_text(text))
    snippet.name, snippet.text = new_name, new_text
    return _save(snippet)


def delete_snippet(snippet_id):
    db.session.delete(get_snippet(snippet_id))
    db.session.commit()
