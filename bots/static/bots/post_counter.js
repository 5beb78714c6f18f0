/*
 * The live counter and preview beside each post text box in the admin.
 *
 * As the person types (debounced), the text is sent to the admin's count
 * endpoint, which answers with X's weighted count (twitter-text v3, the same
 * count the server checks on save) and the text cut into plain runs and
 * links. Nothing is counted here: one count, the server's.
 */
"use strict";
(function () {
    const DEBOUNCE_MS = 150;
    const pending = new WeakMap();  // textarea -> {timer, sequence}

    function csrfToken(element) {
        const form = element.closest("form");
        const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
        return input ? input.value : "";
    }

    function showCount(box, answer) {
        const counter = box.querySelector(".post-counter");
        const value = counter.querySelector(".post-counter-value");
        counter.classList.remove("over", "near", "unavailable");
        if (answer.error) {
            counter.classList.add("over");
            value.textContent = answer.error;
            return;
        }
        value.textContent = String(answer.weighted_length);
        if (answer.remaining < 0) {
            counter.classList.add("over");
        } else if (answer.remaining < 20) {
            counter.classList.add("near");
        }
    }

    function showPreview(box, segments) {
        const preview = box.querySelector(".post-preview-text");
        preview.replaceChildren();
        for (const segment of segments) {
            if (segment.href) {
                const link = document.createElement("a");
                link.href = segment.href;
                link.textContent = segment.text;
                link.target = "_blank";
                link.rel = "noopener noreferrer";
                preview.append(link);
            } else {
                preview.append(document.createTextNode(segment.text));
            }
        }
    }

    async function count(textarea, sequence) {
        const box = textarea.closest(".post-text");
        let answer;
        try {
            const response = await fetch(box.dataset.countUrl, {
                method: "POST",
                credentials: "same-origin",
                headers: {"X-CSRFToken": csrfToken(textarea)},
                body: new URLSearchParams({text: textarea.value}),
            });
            answer = await response.json();
        } catch (error) {
            box.querySelector(".post-counter").classList.add("unavailable");
            return;
        }
        // A slower answer to an older text must not overwrite a newer one.
        if (pending.get(textarea).sequence !== sequence) {
            return;
        }
        showCount(box, answer);
        if (answer.preview) {
            showPreview(box, answer.preview);
        }
    }

    function scheduleCount(textarea) {
        const state = pending.get(textarea) || {timer: null, sequence: 0};
        clearTimeout(state.timer);
        state.sequence += 1;
        const sequence = state.sequence;
        state.timer = setTimeout(() => count(textarea, sequence), DEBOUNCE_MS);
        pending.set(textarea, state);
    }

    function showHandle() {
        const select = document.getElementById("id_account");
        const option = select && select.selectedOptions[0];
        const handle = option && option.value ? option.textContent.split(" ")[0] : "";
        for (const element of document.querySelectorAll(".post-preview-handle")) {
            element.textContent = handle;
        }
    }

    // Delegated, so thread parts added with "Add another" count too.
    document.addEventListener("input", (event) => {
        if (event.target.matches(".post-text textarea")) {
            scheduleCount(event.target);
        }
    });
    document.addEventListener("change", (event) => {
        if (event.target.id === "id_account") {
            showHandle();
        }
    });
    document.addEventListener("formset:added", showHandle);
    document.addEventListener("DOMContentLoaded", showHandle);
})();
