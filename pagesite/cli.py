"""``flask pagesite ...`` commands for the terminal."""

import json
import secrets

import click
from flask.cli import AppGroup

from . import installation
from .errors import ServiceError
from .services import auth, health, keys, publishing

group = AppGroup("pagesite", help="pagesite operations.")


@group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(as_json):
    """Worker and scheduler heartbeats, queue depth and overdue schedules."""
    healthy, details = health.report(with_channel_errors=True)
    if as_json:
        click.echo(json.dumps(details, indent=2))
    else:
        checks = details["checks"]
        for name in ("database", "redis", "worker", "scheduler"):
            check = checks.get(name, {"ok": False})
            extra = ""
            if "last_heartbeat_age" in check:
                age = check["last_heartbeat_age"]
                extra = f"  last heartbeat {age:.1f} s ago" if age is not None else "  never seen"
            if "processes" in check:
                extra += f", {check['processes']} process(es)"
            if check.get("error"):
                extra = "  " + check["error"]
            click.echo(f"{name:<10} {'ok' if check.get('ok') else 'FAIL'}{extra}")
        if "queue_depth" in details:
            click.echo(f"queue      {details['queue_depth']} job(s) waiting")
        schedules = details.get("schedules")
        if schedules:
            click.echo(f"due        {schedules['due_unclaimed']} due and unclaimed, "
                       f"{schedules['publishing']} publishing")
            if schedules["oldest_overdue_at"]:
                click.echo(f"oldest     schedule {schedules['oldest_overdue_id']} due at "
                           f"{schedules['oldest_overdue_at']} ({schedules['oldest_overdue_seconds']:.1f} s overdue)")
        for channel in details.get("channels_needing_attention", []):
            click.echo(f"channel    {channel['id']} {channel['name']} ({channel['provider']}) needs reconnecting: "
                       f"{channel['last_error']}")
        for problem in details["problems"]:
            click.echo(f"problem:   {problem}")
    raise SystemExit(0 if healthy else 1)


@group.command("rotate-key")
@click.option("--batch-size", default=keys.BATCH_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Rows re-encrypted per transaction.")
def rotate_key(batch_size):
    """Re-encrypt every encrypted column (channel credentials, Mastodon app secrets, ...) under the
    first PAGESITE_ENCRYPTION_KEY key.

    To rotate: set PAGESITE_ENCRYPTION_KEY=new,old; run this (again, if it stopped part way: what
    is already under the new key is left as it is); then drop the old key. Exits 1 when a value
    could be read by no configured key (its channel has to be reconnected).
    """
    report = keys.rotate_all(batch_size)
    each = ", ".join(f"{name}: {count}" for name, count in report.rotated.items())
    click.echo(f"Re-encrypted {report.total} value(s) under the first key ({each}); "
               f"{report.current} already were.")
    if report.unreadable:
        for table, column, row in report.unreadable:
            click.echo(f"{table} {row} ({column}): no configured key can read it; {encryption_hint(table)}", err=True)
        raise SystemExit(1)


def encryption_hint(table):
    return ("reconnect the channel under Settings → Channels." if table == "channels" else
            "it is replaced the next time it is needed (a Mastodon app is registered again at the next sign-in)."
            if table == "mastodon_apps" else "it cannot be recovered without the key it was encrypted with.")


@group.command("reconcile")
def reconcile():
    """Rescue stuck schedules and re-enqueue due ones now (the worker does this periodically)."""
    click.echo(json.dumps(publishing.reconcile()))


@group.command("adopt-queue")
def adopt_queue():
    """Make PAGESITE_QUEUE on REDIS_URL this installation's queue, whoever held it.

    For an installation whose database was reset (it has a new id): its workers
    and scheduler refuse the queue its old database held until this is run.
    Processes of the installation that held it stop at their next heartbeat,
    and the jobs it left are refused by this one's workers (RQ's failed jobs).
    """
    hold = installation.QueueHold()
    previous = hold.adopt()
    where = f'The queue "{hold.queue}" on {hold.redis_url}'
    if previous == hold.installation_id:
        click.echo(f"{where} already belonged to this installation ({hold.installation_id}).")
    else:
        click.echo(f"{where} now belongs to this installation ({hold.installation_id}); "
                   f"it belonged to {previous or 'no installation'}.")


user_group = AppGroup("user", help="Accounts that can sign in.")
token_group = AppGroup("token", help="API tokens.")


@user_group.command("create")
@click.argument("email")
@click.password_option(help="The password (asked for when not given).")
def user_create(email, password):
    """Create an account that can sign in."""
    try:
        user = auth.create_user(email, password)
    except ServiceError as e:
        raise click.ClickException(e.detail) from None
    click.echo(f"Created {user.email}.")


@user_group.command("setup-code")
def user_setup_code():
    """Print a new one-time code for the first-run set-up page (replaces the one the web process printed)."""
    code = auth.issue_setup_code()
    if code is None:
        raise click.ClickException("An account exists already; set-up is done.")
    click.echo(code)


@token_group.command("create")
@click.argument("name")
@click.option("--email", default="admin@localhost", show_default=True,
              help="Account to create when none exists yet.")
def token_create(name, email):
    """Create an API token and print it (only the token, on stdout)."""
    user = auth.first_user()
    if user is None:
        password = secrets.token_urlsafe(18)
        user = auth.create_user(email, password)
        click.echo(f"Created the account {email} with the password {password} (shown only this once).",
                   err=True)
    try:
        token, _ = auth.create_token(user, name)
    except ServiceError as e:
        raise click.ClickException(e.detail) from None
    click.echo(token)


def register(app):
    app.cli.add_command(group)
    app.cli.add_command(user_group)
    app.cli.add_command(token_group)
