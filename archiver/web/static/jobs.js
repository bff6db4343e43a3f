// A job's page follows the job: its progress is read every two seconds, and the page is
// loaded again once the job has finished (to offer the download). Without this file the page
// offers a "Check again" link instead.
"use strict";
(function () {
  const section = document.querySelector("[data-job-status]");
  if (!section) {
    return;
  }
  const url = section.getAttribute("data-job-status");
  const bar = document.getElementById("job-bar");
  const count = document.getElementById("job-count");
  const label = document.querySelector("label[for='job-bar']");
  const state = document.getElementById("job-state");
  const words = {queued: "Waiting to start", running: "Running", done: "Done",
                 failed: "Failed", interrupted: "Interrupted, will resume"};
  let last = state ? state.textContent.trim() : "";

  function show(job) {
    if (job.total) {
      bar.max = job.total;
      bar.value = Math.min(job.done, job.total);
      count.textContent = job.done + " of " + job.total;
    } else if (job.done) {
      count.textContent = String(job.done);
    }
    if (job.phase && label) {
      label.textContent = job.phase.charAt(0).toUpperCase() + job.phase.slice(1);
    }
    const now = words[job.state] || job.state;
    if (state && now !== last) {
      state.textContent = now;
      last = now;
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (job) {
        if (!job) {
          return;
        }
        show(job);
        if (job.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  if (!/^(Done|Failed)$/.test(last)) {
    window.setTimeout(poll, 1000);
  }
}());
