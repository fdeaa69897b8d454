// Polls the state of a queued report and updates the progress bar, the live region and the
// download link of the status page (core/templates/reports/status.html).
(function () {
  "use strict";
  var box = document.querySelector(".report-status[data-state-url]");
  if (!box) { return; }
  var bar = document.getElementById("report-progress");
  var message = document.getElementById("report-message");
  var download = document.getElementById("report-download");
  var finished = { done: true, failed: true };
  if (finished[box.getAttribute("data-status")]) { return; }

  function poll() {
    fetch(box.getAttribute("data-state-url"), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (state) {
        bar.value = state.progress;
        bar.textContent = state.progress + " %";
        if (message.textContent !== state.message) { message.textContent = state.message; }
        box.setAttribute("data-status", state.status);
        if (state.status === "failed" || state.expired) {
          var retry = document.getElementById("report-retry");
          if (retry) { retry.hidden = false; }
        }
        if (state.download) {
          download.querySelector("a").href = state.download;
          download.hidden = false;
        }
        if (!finished[state.status]) { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
}());
