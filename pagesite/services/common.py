"""Helpers shared by the services."""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from ..errors import NotFound, ValidationFailed
from ..extensions import db

# Largest id any of our tables can hold; larger ids cannot exist (and would
# overflow PostgreSQL's integer), so they are simply "not found".
MAX_ID = 2**31 - 1


@dataclass
class PageOf:
    """One page of a list's results (not a page of text: see models.Page)."""
    items: list
    total: int
    page: int  # its number, from 1 (the API's name)
    per_page: int


def is_unicode_text(text):
    """False for a string with unpaired surrogates (JSON can carry them; no database stores them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def collect_errors(*checks):
    """Run every check; one 422 listing each field's problems, else their results in order.

    So a form with three mistakes hears of all three at once.
    """
    errors, results = {}, []
    for check in checks:
        try:
            results.append(check())
        except ValidationFailed as e:
            errors.update(e.errors)
            results.append(None)
    if errors:
        raise ValidationFailed(errors)
    return results


def parse_int(value, field, *, minimum=None, maximum=None, default=None):
    """An int from a query string or JSON value, or a 422 naming ``field``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValidationFailed.single(field, "Must be a whole number.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed.single(field, "Must be a whole number.") from None
    if isinstance(value, float) and number != value:
        raise ValidationFailed.single(field, "Must be a whole number.")
    if minimum is not None and number < minimum:
        raise ValidationFailed.single(field, f"Must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise ValidationFailed.single(field, f"Must be at most {maximum}.")
    return number


MAX_PAGE_NUMBER = 1_000_000  # of a list's pages of results


def paging(page_number, per_page):
    """(page number, page size) of a list, checked (the API's parameter is ``page``)."""
    config = current_app.config
    page_number = parse_int(page_number, "page", minimum=1, maximum=MAX_PAGE_NUMBER, default=1)
    per_page = parse_int(
        per_page, "per_page", minimum=1, maximum=config["PER_PAGE_MAX"], default=config["PER_PAGE_DEFAULT"]
    )
    return page_number, per_page


def paginate(statement, page_number, per_page, count_statement=None, keys=None):
    """One page of ``statement``'s rows and the total count.

    ``keys``, when given, selects the primary keys of the same rows in the same
    order (from an index that covers them): the page is picked from it, and
    only that page's rows are read whole, so a deep page skips index entries
    instead of joined table rows.
    """
    page_number, per_page = paging(page_number, per_page)
    if count_statement is None:
        count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
    total = db.session.scalar(count_statement)
    offset = (page_number - 1) * per_page
    if keys is not None:
        key = keys.selected_columns[0]
        statement = statement.where(key.in_(keys.limit(per_page).offset(offset).scalar_subquery()))
    else:
        statement = statement.limit(per_page).offset(offset)
    items = db.session.scalars(statement).unique().all()
    return PageOf(items=list(items), total=total, page=page_number, per_page=per_page)


def get_or_404(model, ident, what, options=()):
    """``model`` ``ident`` (loaded with ``options``), or a 404 naming ``what``."""
    if not isinstance(ident, int) or not 0 < ident <= MAX_ID:
        raise NotFound(f"No {what} with id {ident}.")
    obj = db.session.get(model, ident, options=list(options))
    if obj is None:
        raise NotFound(f"No {what} with id {ident}.")
    return obj
