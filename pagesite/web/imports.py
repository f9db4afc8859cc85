"""A plan in and out as CSV: the schedules list as a file, and an uploaded file
previewed row by row (each row's problems beside it) before anything is created."""

from flask import current_app, flash, redirect, render_template, request, stream_with_context, url_for

from ..errors import ValidationFailed
from ..security import large_body
from ..services import imports, schedules
from . import bp
from .calendar import viewer_zone
from .routes import read_filters


@bp.get("/schedules/export.csv")
def schedules_csv():
    """The schedules the list's filters keep, as the API's CSV export."""
    filters, start, end = read_filters(request.args)
    lines = schedules.export_csv(filters["status"] or None, None, start, end, filters["q"], filters["channel_id"])
    response = current_app.response_class(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="pagesite-schedules.csv"'
    return response


@bp.get("/imports")
def import_form():
    return render_template("web/import_form.html", errors={}, time_zone=viewer_zone(), max_rows=imports.MAX_ROWS)


@bp.post("/imports")
@large_body
def import_upload():
    upload = request.files.get("file")
    time_zone = request.form.get("time_zone", "").strip()
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed.single("file", "Choose a CSV file to import.")
        record = imports.read(upload.stream, upload.filename, time_zone or None)
    except ValidationFailed as e:
        return render_template("web/import_form.html", errors=e.errors, time_zone=time_zone,
                               max_rows=imports.MAX_ROWS), e.status
    return redirect(url_for(".import_preview", import_id=record.id))


@bp.get("/imports/<int:import_id>")
def import_preview(import_id):
    return render_template("web/import_preview.html", preview=imports.preview(imports.get_import(import_id)),
                           error=None)


@bp.post("/imports/<int:import_id>/commit")
def import_commit(import_id):
    mode = request.form.get("mode", "")
    try:
        record = imports.commit(import_id, mode)
    except ValidationFailed as e:
        return render_template("web/import_preview.html", preview=imports.preview(imports.get_import(import_id)),
                               error=e.detail), e.status
    created = len(record.schedule_ids)
    flash(f"Imported {created} {'schedule' if created == 1 else 'schedules'} from {record.filename or 'the file'}.")
    return redirect(url_for(".schedule_list", status="queued"))
