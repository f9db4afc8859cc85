"""Accounts, sessions and API tokens.

Passwords are hashed with Argon2id (argon2-cffi). API tokens are random
(256 bits), shown once, and stored only as a SHA-256 digest: a token is
already high-entropy, so a fast hash loses nothing and keeps every API request
cheap to authenticate. A signed-in browser is a row of ``user_sessions``: its
cookie carries a random key (256 bits) whose SHA-256 is stored, so signing out
(deleting the row) ends it for whoever holds a copy of the cookie.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import ApiToken, SetupCode, User, UserSession
from ..timeutil import isoformat, utcnow

TOKEN_PREFIX = "ps_"
MIN_PASSWORD = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_hasher = PasswordHasher()
_dummy_hash = []


def _dummy():
    """A hash verified when the email is unknown, so both cases take the same time.

    Made on first use, not at import: every web and worker process imports this
    module, and hashing takes most of a second.
    """
    if not _dummy_hash:
        _dummy_hash.append(_hasher.hash("pagesite-timing-equaliser"))
    return _dummy_hash[0]


def has_users():
    return db.session.scalar(select(func.count(User.id))) > 0


SETUP_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def _setup_digest(code):
    normalised = re.sub(r"[\s-]", "", code or "").upper()
    return hashlib.sha256(normalised.encode()).hexdigest()


def issue_setup_code():
    """A new one-time code for first-run set-up, or None when an account exists.

    Only its digest is kept, in the database, so every web process checks the
    same code and creating the first account spends it in the same
    transaction; issuing a new one replaces the old.
    """
    if has_users():
        return None
    code = "-".join("".join(secrets.choice(SETUP_CODE_ALPHABET) for _ in range(4)) for _ in range(4))
    db.session.execute(delete(SetupCode))
    db.session.add(SetupCode(digest=_setup_digest(code)))
    db.session.commit()
    return code


def setup_code_active():
    return db.session.scalar(select(SetupCode.id).limit(1)) is not None


def check_setup_code(code):
    """True when ``code`` is the current set-up code (compared in constant time)."""
    digest = _setup_digest(code)
    return any([hmac.compare_digest(stored, digest) for stored in db.session.scalars(select(SetupCode.digest))])


ACCOUNT_EXISTS = "An account already exists: set-up was finished a moment ago (in another tab, or by someone else)."


def first_user_errors(email, password, setup_code):
    """Every reason the first account could not be made with these values (field -> messages)."""
    errors = {}
    if not check_setup_code(setup_code):
        errors["setup_code"] = ["That is not the set-up code the web process printed; copy it from its console."]
    try:
        _check_account(email, password)
    except ValidationFailed as e:
        errors.update(e.errors)
    return errors


def create_first_user(email, password, setup_code):
    """The first account, allowed only with the set-up code, which is spent in the same transaction.

    Spending it is one conditional DELETE: of set-ups racing with the right
    code, exactly one deletes the row and creates its account; the others
    find it gone and are told the account exists (a Conflict).
    """
    errors = first_user_errors(email, password, setup_code)
    if errors:
        if has_users():  # the code was spent a moment ago, by the set-up that won
            raise Conflict(ACCOUNT_EXISTS)
        raise ValidationFailed(errors)
    email = _check_account(email, password)
    password_hash = _hasher.hash(password)  # slow on purpose: before the transaction, not inside it
    spent = db.session.execute(delete(SetupCode).where(SetupCode.digest == _setup_digest(setup_code))).rowcount
    if spent != 1 or has_users():
        db.session.rollback()
        if spent == 1 or has_users():
            raise Conflict(ACCOUNT_EXISTS)
        raise ValidationFailed.single("setup_code", "That set-up code is no longer valid; a new one was issued.")
    user = User(email=email, password_hash=password_hash)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # the same email, created from the terminal at this moment
        db.session.rollback()
        raise Conflict(ACCOUNT_EXISTS) from None
    return user


def _check_account(email, password):
    errors = {}
    email = (email or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 320:
        errors["email"] = ["Enter a valid email address."]
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        errors["password"] = [f"Use at least {MIN_PASSWORD} characters."]
    elif len(password) > 1024:
        errors["password"] = ["Use at most 1024 characters."]
    if errors:
        raise ValidationFailed(errors)
    return email


def create_user(email, password):
    email = _check_account(email, password)
    if db.session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"An account for {email} already exists.")
    user = User(email=email, password_hash=_hasher.hash(password))
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email, password):
    """The user for these credentials, or None."""
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    try:
        _hasher.verify(user.password_hash if user else _dummy(), password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


def get_user(user_id):
    return db.session.get(User, user_id) if isinstance(user_id, int) else None


def first_user():
    return db.session.scalar(select(User).order_by(User.id).limit(1))


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


# Sessions: one row per signed-in browser.

SESSION_SEEN_EVERY = 60  # seconds between writes of a session's last_seen_at


def _session_lifetime():
    return current_app.permanent_session_lifetime


def start_session(user):
    """A new session for ``user``: the key its cookie carries (only its digest is stored).

    Sessions no browser can use any more (unseen for the session lifetime) are deleted on the way."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.execute(delete(UserSession).where(UserSession.last_seen_at < now - _session_lifetime()))
    db.session.add(UserSession(user_id=user.id, key_hash=_digest(key), created_at=now, last_seen_at=now))
    db.session.commit()
    return key


def session_for(key):
    """The live session (its user loaded) whose cookie carries ``key``, or None."""
    if not isinstance(key, str) or not key or len(key) > 200:
        return None
    record = db.session.scalar(
        select(UserSession).where(UserSession.key_hash == _digest(key)).options(joinedload(UserSession.user)))
    if record is None:
        return None
    now = utcnow()
    if record.last_seen_at < now - _session_lifetime():
        return None
    if (now - record.last_seen_at).total_seconds() > SESSION_SEEN_EVERY:  # not a write on every request
        db.session.execute(update(UserSession).where(UserSession.id == record.id).values(last_seen_at=now))
        db.session.commit()
    return record


def end_session(key):
    """Sign out: the session is gone server-side, so a copy of its cookie no longer works."""
    if isinstance(key, str) and key:
        db.session.execute(delete(UserSession).where(UserSession.key_hash == _digest(key)))
        db.session.commit()


def change_password(user, current_password, new_password, confirm, keep_tokens=False):
    """Set a new password, the current one required. Every session of the user ends (the caller
    starts a new one for the browser that asked); API tokens are revoked unless ``keep_tokens``.
    How many tokens were revoked."""
    errors = {}
    try:
        _hasher.verify(user.password_hash, current_password or "")
    except (VerificationError, InvalidHashError):
        errors["current_password"] = ["That is not your current password."]
    try:
        _check_account(user.email, new_password)
    except ValidationFailed as e:
        errors["new_password"] = e.errors.get("password", ["Choose another password."])
    if not errors.get("new_password") and new_password != confirm:
        errors["confirm_password"] = ["The two passwords differ."]
    if errors:
        raise ValidationFailed(errors)
    user = db.session.merge(user)
    user.password_hash = _hasher.hash(new_password)
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    revoked = 0
    if not keep_tokens:
        revoked = db.session.execute(
            update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())).rowcount
    db.session.commit()
    return revoked


# API tokens

MAX_TOKEN_DAYS = 3650


class TokenExpired(Exception):
    """The bearer token was valid until ``expires_at``."""

    def __init__(self, expires_at):
        super().__init__(f"The bearer token expired at {isoformat(expires_at)}; create a new one under Settings "
                         "(or with POST /api/tokens using a token that is still valid).")
        self.expires_at = expires_at


def _expiry(expires_at, expires_in_days):
    """When a new token expires (None: never), from an aware time or a number of days; 422 otherwise."""
    if expires_at is not None and expires_in_days is not None:
        raise ValidationFailed.single("expires_in_days", "Give expires_in_days or expires_at, not both together "
                                                         "with each other.")
    now = utcnow()
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) \
                or not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise ValidationFailed.single("expires_in_days", f"Must be a whole number of days from 1 to "
                                                             f"{MAX_TOKEN_DAYS}.")
        return now + timedelta(days=expires_in_days)
    if expires_at is not None:
        if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
            raise ValidationFailed.single("expires_at", "Must be a time with an offset.")
        if expires_at <= now:
            raise ValidationFailed.single("expires_at", "That time is in the past; the token would never work.")
        return expires_at
    return None


def create_token(user, name, expires_at=None, expires_in_days=None):
    """(the token, its record). The token itself is never stored. ``expires_at`` (an aware
    time) or ``expires_in_days`` give it an expiry; without either it lasts until revoked."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed.single("name", "Give the token a name of 1 to 100 characters.")
    expiry = _expiry(expires_at, expires_in_days)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, token_hash=_digest(token), prefix=token[:10], expires_at=expiry)
    db.session.add(record)
    db.session.commit()
    return token, record


def verify_token(token):
    """The live ApiToken for ``token``, or None; TokenExpired when it was valid until a moment past."""
    if not token or len(token) > 200:
        return None
    record = db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        .options(joinedload(ApiToken.user))  # every request reads the user: one query, not two
    )
    if record is not None:
        now = utcnow()
        if record.expires_at is not None and record.expires_at <= now:
            raise TokenExpired(record.expires_at)
        # Record use at most once a minute: no write on every request.
        if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
            db.session.execute(update(ApiToken).where(ApiToken.id == record.id).values(last_used_at=now))
            db.session.commit()
    return record


def list_tokens(user):
    return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).all()


def revoke_token(user, token_id):
    record = db.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
    if record is None or record.user_id != user.id:
        raise NotFound(f"No token with id {token_id}.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
    return record
