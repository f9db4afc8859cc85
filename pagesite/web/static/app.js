/* pagesite: the small amount of browser code the HTMX pages need.
   No inline scripts anywhere: this file is loaded with `defer` from every page. */
(function () {
  "use strict";

  var tz = "UTC";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* keep UTC */ }

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /* ---- Problems: every failed request shows a visible message ---- */

  function showProblem(message) {
    var box = $("#problems");
    if (!box) { return; }
    $("[data-problem-text]", box).textContent = message;
    box.hidden = false;
    box.focus();
  }

  function hideProblem() {
    var box = $("#problems");
    if (box) { box.hidden = true; }
  }

  function responseMessage(xhr) {
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    if (type.indexOf("text/plain") === 0 && xhr.responseText) {
      return xhr.responseText.slice(0, 500);
    }
    if (xhr.status === 0) { return "The server did not answer."; }
    return "The server answered " + xhr.status + " " + (xhr.statusText || "") + ". Please try again.";
  }

  function uploadItemOf(elt) { return elt && elt.closest ? elt.closest(".upload-item") : null; }

  function failUpload(item, message) {
    item.classList.add("upload-failed");
    var progress = $("progress", item);
    if (progress) { progress.remove(); }
    var slot = $("[data-upload-error]", item);
    slot.textContent = message;
    slot.hidden = false;
    var button = $("[data-remove-attachment]", item);
    if (button) {
      button.textContent = "Dismiss";
      button.setAttribute("aria-label", (button.getAttribute("aria-label") || "").replace(/^Remove /, "Dismiss "));
    }
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var message = responseMessage(evt.detail.xhr);
    var item = uploadItemOf(evt.detail.elt);
    if (item) { failUpload(item, message); return; }
    showProblem(message);
  });

  document.addEventListener("htmx:sendError", function (evt) {
    var message = "Could not reach the server. Check your connection and try again; nothing you typed was lost.";
    var item = uploadItemOf(evt.detail.elt);
    if (item) { failUpload(item, message); return; }
    showProblem(message);
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    // A user action clears an old message; background polling does not.
    if (!evt.detail.elt.hasAttribute("data-polling")) { hideProblem(); }
  });

  document.addEventListener("click", function (evt) {
    if (evt.target.closest("[data-dismiss-problem]")) { hideProblem(); }
  });

  /* ---- CSRF: a renewed token arrives in a header; use it from now on ---- */

  function applyCsrfToken(token) {
    var meta = $('meta[name="csrf-token"]');
    if (meta) { meta.setAttribute("content", token); }
    var headers = {};
    try { headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { headers = {}; }
    headers["X-CSRFToken"] = token;
    document.body.setAttribute("hx-headers", JSON.stringify(headers));
    $all('input[name="csrf_token"]').forEach(function (input) { input.value = token; });
  }

  document.addEventListener("htmx:afterRequest", function (evt) {
    var xhr = evt.detail.xhr;
    var token = xhr && xhr.getResponseHeader("X-CSRF-Token");
    if (token) { applyCsrfToken(token); }
  });

  /* ---- Times in the user's own zone ---- */

  var timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });

  function localise(root) {
    $all("time[data-local-time]", root).forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = timeFormat.format(when);
        el.title = el.getAttribute("datetime");
      }
    });
    $all("[data-tz-label]", root).forEach(function (el) { el.textContent = tz; });
    $all("input[data-tz-input]", root).forEach(function (el) { el.value = tz; });
  }

  /* ---- Compose: character count, schedule fields, uploads ---- */

  function updateCount(form) {
    var text = $("#text", form);
    var counter = $("[data-char-count]", form);
    if (!text || !counter) { return; }
    var max = parseInt(counter.getAttribute("data-max"), 10);
    // Count as the server does: code points, line breaks as one, ends trimmed.
    var length = Array.from(text.value.replace(/\r\n/g, "\n").trim()).length;
    $("[data-count]", counter).textContent = String(length);
    counter.classList.toggle("over", length > max);
    if (length > max) {
      counter.setAttribute("role", "status");
      $("[data-count]", counter).textContent = length + " (" + (length - max) + " over the limit)";
    } else {
      counter.removeAttribute("role");
    }
  }

  function syncWhen(form) {
    var later = $("#when-later", form);
    var box = $("#when-at", form);
    if (!later || !box) { return; }
    box.classList.toggle("inactive", !later.checked);
  }

  function attachmentsChanged(form) {
    htmx.trigger(form, "pagesite:attachments");
    clearFixedErrors(form);
  }

  /* ---- Compose: an error goes as soon as its field is valid, the summary with it ---- */

  function textLength(form) {
    var text = $("#text", form);
    return text ? Array.from(text.value.replace(/\r\n/g, "\n").trim()).length : 0;
  }

  function scheduleValid(form) {
    if (!$("#when-later", form).checked) { return true; }
    var date = $("#date", form).value, time = $("#time", form).value;
    // The browser's clock and zone are the user's: a future local time is valid (the server checks again).
    return Boolean(date && time) && new Date(date + "T" + time) > new Date();
  }

  var FIELD_RULES = {
    text: function (form) {
      var max = parseInt($("[data-char-count]", form).getAttribute("data-max"), 10);
      var length = textLength(form);
      return length > 0 && length <= max;
    },
    attachment_ids: function (form) {
      var max = parseInt(form.getAttribute("data-max-attachments"), 10);
      return $all("input[name=attachment_ids]", form).length <= max;
    },
    scheduled_at: scheduleValid
  };

  function fieldValid(form, name) {
    var alt = /^alt_text_(\d+)$/.exec(name);
    if (alt) { return Boolean($("#alt-status-" + alt[1] + " .saved", form)) || !$("#attachment-" + alt[1], form); }
    var rule = FIELD_RULES[name];
    return rule ? rule(form) : false;
  }

  function clearError(form, name) {
    var id = name + "-error";
    $all("[data-field-error='" + name + "']", form).forEach(function (el) { el.remove(); });
    $all("[aria-describedby]", form).forEach(function (control) {
      var ids = control.getAttribute("aria-describedby").split(/\s+/);
      if (ids.indexOf(id) < 0) { return; }
      control.removeAttribute("aria-invalid");
      ids = ids.filter(function (x) { return x && x !== id; });
      if (ids.length) { control.setAttribute("aria-describedby", ids.join(" ")); }
      else { control.removeAttribute("aria-describedby"); }
    });
    $all("[data-error-for='" + name + "']", form).forEach(function (el) { el.remove(); });
  }

  function clearFixedErrors(form) {
    var names = {};
    $all("[data-error-for], [data-field-error]", form).forEach(function (el) {
      names[el.getAttribute("data-error-for") || el.getAttribute("data-field-error")] = true;
    });
    Object.keys(names).forEach(function (name) { if (fieldValid(form, name)) { clearError(form, name); } });
    var summary = $("[data-error-summary]", form);
    if (summary && !$("[data-error-for]", summary)) { summary.remove(); }
  }

  function uploadCard(list, file) {
    var item = document.createElement("li");
    item.className = "upload-item uploading";
    var head = document.createElement("div");
    head.className = "upload-head";
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button-quiet";
    remove.setAttribute("data-remove-attachment", "");
    remove.setAttribute("aria-label", "Remove " + file.name);
    remove.textContent = "Remove";
    head.appendChild(name);
    head.appendChild(remove);
    var progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", "Uploading " + file.name);
    var error = document.createElement("p");
    error.className = "field-error";
    error.setAttribute("role", "alert");
    error.setAttribute("data-upload-error", "");
    error.hidden = true;
    item.appendChild(head);
    item.appendChild(progress);
    item.appendChild(error);
    list.appendChild(item);
    return item;
  }

  function attachmentsInUse(list) {
    return $all(".upload-item", list).filter(function (item) {
      return !item.classList.contains("upload-failed");
    }).length;
  }

  function refuseFile(list, file, max) {
    var item = uploadCard(list, file);
    item.classList.remove("uploading");
    failUpload(item, "Not added: a page takes at most " + max + " attachments. Remove one to make room for this file.");
  }

  function startUpload(form, list, file) {
    var item = uploadCard(list, file);
    item.setAttribute("hx-encoding", "multipart/form-data");
    item.setAttribute("hx-params", "file");
    var progress = $("progress", item);

    item.addEventListener("htmx:xhr:progress", function (evt) {
      if (evt.detail.lengthComputable && evt.detail.total) {
        progress.value = Math.round(100 * evt.detail.loaded / evt.detail.total);
        progress.textContent = progress.value + "%";
      }
    });
    htmx.ajax("POST", form.getAttribute("data-upload-url"), {
      source: item, target: item, swap: "outerHTML",
      values: { file: file },
      headers: { "X-Upload-Filename": encodeURIComponent(file.name) }
    }).then(function () { attachmentsChanged(form); }, function () { attachmentsChanged(form); });
  }

  document.addEventListener("change", function (evt) {
    var input = evt.target;
    var form = input.closest && input.closest("#compose-form");
    if (!form) { return; }
    if (input.matches("[data-upload-input]")) {
      var list = $("#attachment-list", form);
      var max = parseInt(form.getAttribute("data-max-attachments"), 10);
      var used = attachmentsInUse(list);
      // Files past the limit are refused as they are chosen, each with the reason on its card.
      Array.prototype.forEach.call(input.files, function (file) {
        if (used < max) { used += 1; startUpload(form, list, file); } else { refuseFile(list, file, max); }
      });
      input.value = "";  // the files now live in the list; choosing the same file again works
    }
    if (input.name === "when") { syncWhen(form); }
    if (input.matches("[data-schedule-part]") && input.value) {
      $("#when-later", form).checked = true;
      syncWhen(form);
    }
    clearFixedErrors(form);
  });

  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("#compose-form");
    if (!form) { return; }
    if (evt.target.id === "text") { updateCount(form); }
    clearFixedErrors(form);
  });

  document.addEventListener("click", function (evt) {
    // A snippet goes where the cursor was in Text (a space apart from the words around it),
    // and the focus goes back there, just after it.
    var button = evt.target.closest && evt.target.closest("[data-insert-snippet]");
    if (!button) { return; }
    var form = button.closest("#compose-form");
    var option = $(button.getAttribute("data-insert-snippet")).selectedOptions[0];
    var box = form && $("#text", form);
    if (!option || !box) { return; }
    var start = box.selectionStart, end = box.selectionEnd, value = box.value;
    var insert = option.getAttribute("data-text");
    if (start > 0 && !/\s/.test(value.charAt(start - 1))) { insert = " " + insert; }
    if (end < value.length && !/\s/.test(value.charAt(end))) { insert = insert + " "; }
    box.value = value.slice(0, start) + insert + value.slice(end);
    box.focus();
    box.setSelectionRange(start + insert.length, start + insert.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });

  document.addEventListener("htmx:confirm", function (evt) {
    // "Back to the page's text" asks only when there is a text of its own to throw away.
    var field = evt.detail.elt.getAttribute && evt.detail.elt.getAttribute("data-version-reset");
    if (!field) { return; }
    var box = document.getElementById(field);
    if (box && !box.value.trim()) {
      evt.preventDefault();
      evt.detail.issueRequest(true);
    }
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    // A description saved on the server clears its error.
    var target = evt.detail.target;
    if (!target || !/^alt-status-/.test(target.id || "")) { return; }
    var form = target.closest("#compose-form");
    if (form) { clearFixedErrors(form); }
  });

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-remove-attachment]");
    if (!button) { return; }
    var item = button.closest(".upload-item");
    var form = button.closest("#compose-form");
    if (item.classList.contains("uploading")) { htmx.trigger(item, "htmx:abort"); }
    item.remove();
    if (form) {
      $("#attachments", form).focus();
      attachmentsChanged(form);
    }
  });

  /* ---- A link to a field moves the keyboard focus there, not only the view ---- */

  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a[data-focus-target]");
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (field) { evt.preventDefault(); field.focus(); }
  });

  /* ---- Settings: copy a new token; destructive actions ask first ---- */

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-copy]");
    if (!button) { return; }
    var source = $(button.getAttribute("data-copy"));
    var status = $("#" + button.getAttribute("aria-describedby"));
    function done(ok) {
      if (status) { status.textContent = ok ? "Copied to the clipboard." : "Could not copy: select the token and copy it yourself."; }
    }
    source.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(source.value).then(function () { done(true); }, function () {
        done(document.execCommand && document.execCommand("copy"));
      });
    } else {
      done(document.execCommand && document.execCommand("copy"));
    }
  });

  document.addEventListener("submit", function (evt) {
    var message = evt.target.getAttribute && evt.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { evt.preventDefault(); }
  });

  /* ---- Compose: leaving with unsaved work asks first ---- */

  var submitting = false;

  function hasUnsavedWork() {
    var form = $("#compose-form");
    if (!form || submitting) { return false; }
    return textLength(form) > 0 || attachmentsInUse($("#attachment-list", form)) > 0;
  }

  document.addEventListener("submit", function (evt) {
    if (evt.target.id === "compose-form") { submitting = true; }
  });
  document.addEventListener("htmx:afterRequest", function () { submitting = false; });

  window.addEventListener("beforeunload", function (evt) {
    if (hasUnsavedWork()) {
      evt.preventDefault();
      evt.returnValue = "";  // the browser shows its own "Leave site?" question
    }
  });

  /* ---- Filter forms: only the filters in use go into the URL; say what was found ---- */

  document.addEventListener("htmx:configRequest", function (evt) {
    if (!evt.detail.elt.hasAttribute || !evt.detail.elt.hasAttribute("data-drop-empty")) { return; }
    var params = evt.detail.parameters;
    Array.from(new Set(Array.from(evt.detail.formData.keys()))).forEach(function (name) {
      var field = evt.detail.elt.elements[name];
      var unset = field && field.getAttribute ? field.getAttribute("data-default") || "" : "";
      if (evt.detail.formData.getAll(name).every(function (v) { return v === "" || v === unset; })) {
        delete params[name];
      }
    });
  });

  // A filter's errors arrive out of band, into the slot beside its field: mark the field to match.
  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    var slot = evt.detail.target && evt.detail.target.id ? document.getElementById(evt.detail.target.id) : null;
    var name = slot ? slot.getAttribute("data-filter-errors") : null;
    var field = name && slot.closest("form") ? slot.closest("form").elements[name] : null;
    if (!field) { return; }
    var error = $("ul", slot);
    var errorId = "filter-" + name + "-error";
    var ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) { return x && x !== errorId; });
    if (error) { ids.push(errorId); field.setAttribute("aria-invalid", "true"); } else { field.removeAttribute("aria-invalid"); }
    if (ids.length) { field.setAttribute("aria-describedby", ids.join(" ")); } else { field.removeAttribute("aria-describedby"); }
  });

  // Say what a filter found (the list is in place by now).
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-drop-empty")) { return; }
    var summary = $("#schedules-region [data-list-summary]");
    if (summary) { $("#announcer").textContent = summary.textContent.replace(/\s+/g, " ").trim(); }
  });

  /* ---- Live tables: keep focus, scroll and open rows; announce status changes ---- */

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  var before = null;

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-status-region")) { return; }
    var statuses = {};
    $all("[data-schedule-id]", target).forEach(function (row) {
      statuses[row.getAttribute("data-schedule-id")] = row.getAttribute("data-status");
    });
    var active = document.activeElement;
    var inside = active && active !== target && target.contains(active);
    before = {
      statuses: statuses,
      // Where focus was: by id, or else by its place among the region's focusable elements.
      focusId: inside ? active.id : null,
      focusIndex: inside ? $all(FOCUSABLE, target).indexOf(active) : -1,
      open: $all("details[open][id]", target).map(function (d) { return d.id; }),
      scrollX: window.scrollX,
      scrollY: window.scrollY
    };
  });

  function afterStatusSwap(root) {
    if (!before) { return; }
    var changes = [];
    $all("[data-schedule-id]", root).forEach(function (row) {
      var id = row.getAttribute("data-schedule-id");
      var was = before.statuses[id];
      var now = row.getAttribute("data-status");
      if (was && was !== now) { changes.push("Schedule " + id + " is now " + now + "."); }
    });
    if (changes.length) { $("#announcer").textContent = changes.join(" "); }
    before.open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) { details.open = true; }
    });
    var again = before.focusId ? document.getElementById(before.focusId) : null;
    if (!again && before.focusIndex >= 0) { again = $all(FOCUSABLE, root)[before.focusIndex] || null; }
    if (again) { again.focus({ preventScroll: true }); }
    window.scrollTo(before.scrollX, before.scrollY);
    before = null;
  }

  /* ---- Calendar: the server renders in the browser's zone; drag a queued chip to move it ---- */

  // The server reads the zone from this cookie to draw the calendar in local time.
  document.cookie = "pagesite_tz=" + encodeURIComponent(tz) + "; path=/; SameSite=Lax";

  function calendarOf(elt) { return elt && elt.closest ? elt.closest("[data-calendar]") : null; }

  function dropTarget(elt) { return elt && elt.closest ? elt.closest("[data-drop-date]") : null; }

  var dragged = null;
  var calendarRedrawn = false;

  document.addEventListener("dragstart", function (evt) {
    var chip = evt.target.closest && evt.target.closest(".chip[draggable='true']");
    if (!chip || !calendarOf(chip)) { return; }
    dragged = chip;
    chip.classList.add("dragging");
    evt.dataTransfer.effectAllowed = "move";
    evt.dataTransfer.setData("text/plain", chip.getAttribute("data-schedule-id"));
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    $all(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (evt) {
    var cell = dropTarget(evt.target);
    if (!dragged || !cell) { return; }
    evt.preventDefault();  // allows the drop
    evt.dataTransfer.dropEffect = "move";
    $all(".drop-target").forEach(function (el) { if (el !== cell) { el.classList.remove("drop-target"); } });
    cell.classList.add("drop-target");
  });

  document.addEventListener("drop", function (evt) {
    var cell = dropTarget(evt.target);
    var chip = dragged;
    if (!chip || !cell) { return; }
    evt.preventDefault();
    var calendar = calendarOf(cell);
    // A week cell is an hour (the chip keeps its minutes); a month cell is a day (the chip keeps its time).
    var clock = chip.getAttribute("data-local-time");
    var hour = cell.getAttribute("data-drop-hour");
    if (hour) { clock = hour + ":" + clock.split(":")[1]; }
    var url = calendar.getAttribute("data-move-url").replace(/\/0\/move$/, "/" + chip.getAttribute("data-schedule-id") + "/move");
    htmx.ajax("POST", url, {
      source: calendar, target: "#calendar", swap: "outerHTML",
      values: {
        date: cell.getAttribute("data-drop-date"), time: clock, tz: calendar.getAttribute("data-tz"),
        view: calendar.getAttribute("data-view"), anchor: calendar.getAttribute("data-anchor")
      }
    });
  });

  // Previous / next / today and the view switch replace the calendar: keep focus on the same
  // control and say where we are now.
  var calendarFocus = null;

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || target.id !== "calendar") { return; }
    var active = document.activeElement;
    calendarFocus = active && target.contains(active) && active.id ? active.id : null;
  });

  function afterCalendarSwap(calendar) {
    var title = $("#calendar-title", calendar);
    if (title && !$("[data-autofocus]", calendar)) { $("#announcer").textContent = title.textContent; }
    var again = calendarFocus && document.getElementById(calendarFocus);
    if (again && !$("[data-autofocus]", calendar)) { again.focus(); }
    calendarFocus = null;
  }

  /* ---- Copy a value shown once (a generated webhook secret) ---- */

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-copy]");
    if (!button) { return; }
    var input = $(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector("[data-copy-status]");
    function done(message) { if (status) { status.textContent = message; } }
    if (!input) { return; }
    function selectIt() { input.focus(); input.select(); done("Selected: press Ctrl+C (or Cmd+C) to copy."); }
    if (navigator.clipboard && window.isSecureContext) {
      // Said at once, as the clipboard may take its time (or never answer, in a window without focus).
      done("Copying…");
      navigator.clipboard.writeText(input.value).then(function () { done("Copied."); }, selectIt);
    } else {
      selectIt();
    }
  });

  /* ---- Whenever content arrives (first load or a swap) ---- */

  function onLoad(root) {
    localise(root);
    var form = root.id === "compose-form" ? root : $("#compose-form", root);
    if (form) { updateCount(form); syncWhen(form); }
    if (root.hasAttribute && root.hasAttribute("data-status-region")) { afterStatusSwap(root); }
    var calendar = root.hasAttribute && root.hasAttribute("data-calendar") ? root : $("[data-calendar]", root);
    if (calendar && calendar === root) { afterCalendarSwap(calendar); }
    if (calendar && !calendarRedrawn && calendar.getAttribute("data-tz") !== tz && !/[?&]tz=/.test(location.search)) {
      calendarRedrawn = true;
      // Drawn before the server knew this browser's zone (first visit): draw it again in local time.
      htmx.ajax("GET", location.pathname + location.search, { source: calendar, target: "#calendar", swap: "outerHTML" });
    }
    // A message that needs attention takes the focus, on a swap or a whole page load alike.
    var focus = root.hasAttribute && root.hasAttribute("data-autofocus") ? root : $("[data-autofocus]", root);
    if (focus) { focus.focus(); }
  }

  // htmx (loaded just before this file) fires htmx:load for the first page and for every swap.
  htmx.onLoad(function (elt) { onLoad(elt); });
}());
