/* Keeps a page's live regions up to date while work is in flight: the post
   list's statuses, the post's own status, the dashboard and the calendar.

   Each region carries data-live="<key>". While any region of the page says
   data-live-poll (a post claimed, sending, unknown or due within the hour;
   the dashboard and the calendar always), the page asks the server for itself
   again every few seconds, with one request, and puts each region it gets
   back in place of the one of the same key whose contents changed, marked
   for a moment so that the eye finds it. Nothing else of the page is touched:
   a form being filled in stays as it is. A hidden tab asks nothing until it
   is shown again. */
"use strict";
(function () {
    const EVERY_MS = 4000;
    const CHANGED = "live-changed";
    const MARKED_MS = 2500;
    let timer = null;

    function polling(root) {
        return root.querySelector("[data-live-poll]") !== null;
    }

    function schedule() {
        clearTimeout(timer);
        timer = document.hidden ? null : setTimeout(refresh, EVERY_MS);
    }

    // A region as the server last sent it (the page marks what it swapped in).
    const sent = new WeakMap();

    function swap(fresh) {
        for (const region of document.querySelectorAll("[data-live]")) {
            const next = fresh.querySelector(`[data-live="${CSS.escape(region.dataset.live)}"]`);
            if (next === null || next.outerHTML === (sent.get(region) ?? region.outerHTML)) {
                continue;
            }
            const adopted = document.importNode(next, true);
            sent.set(adopted, next.outerHTML);
            region.replaceWith(adopted);
            adopted.classList.add(CHANGED);
            setTimeout(() => adopted.classList.remove(CHANGED), MARKED_MS);
        }
    }

    function refresh() {
        fetch(window.location.href, {headers: {"Accept": "text/html"}, credentials: "same-origin"})
            .then((response) => response.ok ? response.text() : Promise.reject(response.status))
            .then((html) => {
                const fresh = new DOMParser().parseFromString(html, "text/html");
                swap(fresh);
                if (polling(document)) {
                    schedule();
                }
            })
            .catch(() => { timer = setTimeout(refresh, EVERY_MS * 4); });
    }

    function start() {
        document.addEventListener("visibilitychange", () => {
            if (!document.hidden && timer === null && polling(document)) {
                refresh();
            }
        });
        if (polling(document)) {
            schedule();
        }
    }

    // The admin puts its pages' scripts in the head: wait for the body.
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
