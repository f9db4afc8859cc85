"""Accounts and API tokens.

Passwords are hashed with Argon2id (argon2-cffi). API tokens are random
(256 bits), shown once, and stored only as a SHA-256 digest: a token is
already high-entropy, so a fast hash loses nothing and keeps every API request
cheap to authenticate.
"""

import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db, get_redis
from ..models import ApiToken, User
from ..timeutil import utcnow

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


SETUP_CODE_KEY = "pagesite:setup-code"
SETUP_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def _setup_digest(code):
    normalised = re.sub(r"[\s-]", "", code or "").upper()
    return hashlib.sha256(normalised.encode()).hexdigest()


def issue_setup_code():
    """A new one-time code for first-run set-up, or None when an account exists.

    Only its digest is kept, in Redis, so every web process checks the same
    code; issuing a new one replaces the old.
    """
    if has_users():
        return None
    code = "-".join("".join(secrets.choice(SETUP_CODE_ALPHABET) for _ in range(4)) for _ in range(4))
    get_redis().set(SETUP_CODE_KEY, _setup_digest(code))
    return code


def setup_code_active():
    return get_redis().exists(SETUP_CODE_KEY) > 0


def check_setup_code(code):
    """True when ``code`` is the current set-up code (compared in constant time)."""
    stored = get_redis().get(SETUP_CODE_KEY)
    return stored is not None and hmac.compare_digest(stored.decode(), _setup_digest(code))


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
    """The first account, allowed only with the set-up code; the code is then spent."""
    errors = first_user_errors(email, password, setup_code)
    if errors:
        raise ValidationFailed(errors)
    if has_users():
        raise Conflict("Set-up is already done.")
    user = create_user(email, password)
    get_redis().delete(SETUP_CODE_KEY)
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


def create_token(user, name):
    """(the token, its record). The token itself is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed.single("name", "Give the token a name of 1 to 100 characters.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, token_hash=_digest(token), prefix=token[:10])
    db.session.add(record)
    db.session.commit()
    return token, record


def verify_token(token):
    """The live ApiToken for ``token``, or None."""
    if not token or len(token) > 200:
        return None
    record = db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        .options(joinedload(ApiToken.user))  # every request reads the user: one query, not two
    )
    if record is not None:
        now = utcnow()
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
