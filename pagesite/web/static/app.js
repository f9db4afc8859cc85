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
    if (button) { button.textContent = "Dismiss"; }
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
  }

  function startUpload(form, list, file) {
    var item = document.createElement("li");
    item.className = "upload-item uploading";
    item.setAttribute("hx-encoding", "multipart/form-data");
    item.setAttribute("hx-params", "file");
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
      Array.prototype.forEach.call(input.files, function (file) { startUpload(form, list, file); });
      input.value = "";  // the files now live in the list; choosing the same file again works
    }
    if (input.name === "when") { syncWhen(form); }
    if (input.matches("[data-schedule-part]") && input.value) {
      $("#when-later", form).checked = true;
      syncWhen(form);
    }
  });

  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("#compose-form");
    if (form && evt.target.id === "text") { updateCount(form); }
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

  /* ---- Live tables: keep focus, announce status changes ---- */

  var before = null;

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-status-region")) { return; }
    var statuses = {};
    $all("[data-schedule-id]", target).forEach(function (row) {
      statuses[row.getAttribute("data-schedule-id")] = row.getAttribute("data-status");
    });
    var active = document.activeElement;
    before = { statuses: statuses, focusId: active && target.contains(active) ? active.id : null };
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
    if (before.focusId) {
      var again = document.getElementById(before.focusId);
      if (again) { again.focus(); }
    }
    before = null;
  }

  /* ---- Copy a value shown once (a generated webhook secret) ---- */

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-copy]");
    if (!button) { return; }
    var input = $(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector("[data-copy-status]");
    function done(message) { if (status) { status.textContent = message; } }
    if (!input) { return; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done("Copied."); },
        function () { input.select(); done("Selected: press Ctrl+C (or Cmd+C) to copy."); });
    } else {
      input.focus();
      input.select();
      done("Selected: press Ctrl+C (or Cmd+C) to copy.");
    }
  });

  /* ---- Whenever content arrives (first load or a swap) ---- */

  function onLoad(root) {
    localise(root);
    var form = root.id === "compose-form" ? root : $("#compose-form", root);
    if (form) { updateCount(form); syncWhen(form); }
    if (root.hasAttribute && root.hasAttribute("data-status-region")) { afterStatusSwap(root); }
    var focus = root.hasAttribute && root.hasAttribute("data-autofocus") ? root : $("[data-autofocus]", root);
    if (focus && root !== document.body) { focus.focus(); }
  }

  // htmx (loaded just before this file) fires htmx:load for the first page and for every swap.
  htmx.onLoad(function (elt) { onLoad(elt); });
}());
