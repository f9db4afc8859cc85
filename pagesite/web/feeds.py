"""The Feeds screen (Settings → Feeds): the feeds read, how each last read went, and a form to add one."""

from flask import flash, redirect, render_template, request, url_for

from ..errors import ValidationFailed
from ..services import channels, feeds
from . import bp
from .forms import parse_ids


def _screen(errors=None, form=None, status=200):
    return render_template("web/feeds.html", feeds=feeds.list_feeds(), channel_list=channels.live_channels(),
                           errors=errors or {}, form=form or {"mode": "queue", "template": feeds.DEFAULT_TEMPLATE},
                           failing=feeds.is_failing, default_template=feeds.DEFAULT_TEMPLATE), status


@bp.get("/settings/feeds")
def feed_list():
    return _screen()


@bp.post("/settings/feeds")
def feed_add():
    form = {"url": request.form.get("url", ""), "mode": request.form.get("mode", "queue"),
            "template": request.form.get("template", ""), "post_newest": request.form.get("post_newest") == "yes",
            "channel_ids": parse_ids(request.form.getlist("channel_ids"))}
    try:
        feed = feeds.add_feed(form["url"], form["channel_ids"], form["mode"], form["template"], form["post_newest"])
    except ValidationFailed as e:
        return _screen(e.errors, form, e.status)
    flash(f"{feed.title or feed.url} was added; its new items become pages from now on.")
    return redirect(url_for(".feed_list"))


@bp.post("/settings/feeds/<int:feed_id>/check")
def feed_check(feed_id):
    result = feeds.check_feed(feed_id)
    if result["error"]:
        flash(f"Could not read it: {result['error']}", "error")
    elif result["unchanged"]:
        flash("Read now: it has not changed.")
    else:
        flash(f"Read now: {result['new']} new {'item' if result['new'] == 1 else 'items'}.")
    return redirect(url_for(".feed_list"))


@bp.post("/settings/feeds/<int:feed_id>/delete")
def feed_delete(feed_id):
    feed = feeds.get_feed(feed_id)
    name = feed.title or feed.url
    feeds.delete_feed(feed_id)
    flash(f"{name} is no longer read; the pages it made stay.")
    return redirect(url_for(".feed_list"))
