/* Keeps an import's page up to date: polls its progress endpoint once a
   second until the worker has finished, then shows the outcome and report. */
"use strict";
(function () {
    const page = document.querySelector("[data-progress-url]");
    if (!page || page.dataset.finished === "true") {
        return;
    }
    const bar = document.getElementById("import-bar");
    const status = document.getElementById("import-status");
    const count = document.getElementById("import-count");
    const outcome = document.getElementById("import-outcome");
    const report = document.getElementById("import-report");

    function show(progress) {
        bar.max = Math.max(progress.total, 1);
        bar.value = progress.processed;
        status.textContent = progress.status_label;
        status.className = "import-status-" + progress.status;
        count.textContent = progress.processed + " of " + progress.total + " rows checked";
        if (!progress.finished) {
            return false;
        }
        outcome.hidden = false;
        if (progress.status === "done") {
            outcome.textContent = "Imported " + progress.created + " post" + (progress.created === 1 ? "" : "s") + ". ";
            const link = document.createElement("a");
            link.href = page.dataset.postsUrl;
            link.textContent = "See them in the post list.";
            outcome.appendChild(link);
        } else {
            outcome.textContent = "Nothing was imported: fix the rows below and upload the file again.";
        }
        const body = report.querySelector("tbody");
        body.replaceChildren();
        for (const problem of progress.report) {
            const row = body.insertRow();
            for (const value of [problem.row, problem.column, problem.reason]) {
                row.insertCell().textContent = value;
            }
        }
        report.hidden = progress.report.length === 0;
        return true;
    }

    function poll() {
        fetch(page.dataset.progressUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
            .then((response) => response.ok ? response.json() : Promise.reject(response.status))
            .then((progress) => { if (!show(progress)) { setTimeout(poll, 1000); } })
            .catch(() => setTimeout(poll, 3000));
    }
    setTimeout(poll, 500);
})();
