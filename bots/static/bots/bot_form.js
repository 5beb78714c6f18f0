/* The bot form: only the fields of the chosen schedule (a cron expression, or
   every N minutes or hours) and of the chosen content (a queue of items, or a
   template) are shown, and the schedule is said in words with its next runs,
   in the bot's zone, as it is filled in. Without this script every field
   shows, and the words and runs show once the bot is saved. */
"use strict";
(function () {
    function start() {
        const form = document.getElementById("bot_form");
        const words = form && form.querySelector(".schedule-words");
        if (!words) {
            return;  // a read-only page
        }
        const runs = form.querySelector(".field-next_runs .readonly");
        const chosen = (name) => (form.querySelector(`input[name="${name}"]:checked`) || {}).value;
        const rows = {
            cron: [".form-row.field-cron"],
            interval: [".form-row.field-interval_every"],
            queue: [".form-row.field-queue_mode", "#items-group"],
            template: [".form-row.field-template", ".form-row.field-template_lists"],
        };

        function showChosen() {
            const shown = new Set([chosen("schedule_kind"), chosen("source")]);
            for (const [choice, selectors] of Object.entries(rows)) {
                for (const selector of selectors) {
                    for (const element of form.querySelectorAll(selector)) {
                        element.hidden = !shown.has(choice);
                    }
                }
            }
        }

        function showPreview(preview) {
            words.textContent = preview.problems.length ? preview.problems.join(" ") : preview.words;
            words.classList.toggle("errornote", preview.problems.length > 0);
            const list = document.createElement("ol");
            list.className = "bot-next-runs";
            for (const run of preview.runs) {
                list.appendChild(document.createElement("li")).textContent = run;
            }
            runs.replaceChildren(list);
        }

        let pending = null;
        function preview() {
            clearTimeout(pending);
            pending = setTimeout(() => {
                fetch(words.dataset.previewUrl, {method: "POST", body: new FormData(form), credentials: "same-origin",
                                                 headers: {"Accept": "application/json"}})
                    .then((response) => response.ok ? response.json() : Promise.reject(response.status))
                    .then(showPreview)
                    .catch(() => { words.textContent = "The schedule cannot be previewed just now."; });
            }, 300);
        }

        const schedule = ["schedule_kind", "cron", "interval_every", "interval_unit", "timezone"];
        form.addEventListener("input", (event) => {
            if (schedule.includes(event.target.name)) {
                preview();
            }
        });
        form.addEventListener("change", (event) => {
            showChosen();
            if (schedule.includes(event.target.name)) {
                preview();
            }
        });
        showChosen();
        // A new bot's, at once. A saved one shows its own runs until its
        // schedule is changed, and a form sent back with errors says them on
        // their fields, not a second time here.
        if (!runs.textContent.trim() && !form.querySelector(".errorlist")) {
            preview();
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
