// The purge's progress page updates itself while the job runs (the page works without this:
// reload it). When the job is over the page is loaded again to show the certificate.
"use strict";
(function () {
  const box = document.querySelector("[data-status-url]");
  if (!box) { return; }
  const url = box.getAttribute("data-status-url");
  const bar = box.querySelector("progress");
  const state = box.querySelector(".job-state");
  const phase = box.querySelector(".job-phase");
  const percent = box.querySelector(".job-percent");
  function show(job) {
    state.textContent = job.state;
    const over = job.state === "done" || job.state === "failed";
    phase.textContent = job.phase && !over ? ", " + job.phase : "";
    if (job.percent !== null) {
      bar.value = job.percent;
      percent.textContent = job.percent + "%";
    }
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
      .then(function (status) {
        show(status.job);
        if (status.job.state === "done" || status.job.state === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1500);
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  const initial = state.textContent;
  if (initial !== "done" && initial !== "failed") { window.setTimeout(poll, 1000); }
})();
