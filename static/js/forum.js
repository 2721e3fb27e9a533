// Small enhancements. Every page works without this file.
//
// - Times read "3 hours ago"; the exact time stays in the title and datetime.
// - "Reply" opens a form under the post instead of a new page.
// - j / k move between posts; Enter or Space on a post's summary collapses it.
"use strict";

(function () {
  // --- Relative times ---------------------------------------------------------
  const units = [
    ["year", 365 * 24 * 3600],
    ["month", 30 * 24 * 3600],
    ["week", 7 * 24 * 3600],
    ["day", 24 * 3600],
    ["hour", 3600],
    ["minute", 60],
  ];
  const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

  function ago(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
    return "just now";
  }

  function showRelativeTimes() {
    for (const time of document.querySelectorAll("time[datetime]")) {
      const date = new Date(time.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      if (!time.dataset.exact) {
        time.dataset.exact = time.textContent;
        time.title = time.textContent;
      }
      time.textContent = ago(date);
    }
  }

  // --- Inline reply -----------------------------------------------------------
  // The topic's own reply form (present for members who may reply) is the model:
  // it carries the CSRF token, and the server validates either form the same way.
  function openReply(link) {
    const model = document.querySelector("#reply form.post-form");
    const post = link.closest("li.post");
    if (!model || !post) return false;
    const open = post.querySelector(":scope > details > form.inline-reply");
    if (open) {
      open.querySelector("textarea").focus();
      return true;
    }
    const form = model.cloneNode(true);
    const id = "reply-body-" + post.id;
    form.classList.add("inline-reply");
    form.action = link.getAttribute("href");
    form.querySelector("textarea").value = "";
    form.querySelector("textarea").id = id;
    form.querySelector("label").htmlFor = id;
    form.querySelector("label").textContent = link.textContent.replace(/\s+/g, " ").trim();
    const help = form.querySelector(".helptext");
    if (help) {
      help.id = id + "-help";
      form.querySelector("textarea").setAttribute("aria-describedby", help.id);
    }
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button-secondary";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", function () {
      form.remove();
      link.focus();
    });
    form.querySelector(".form-buttons").append(cancel);
    const links = link.closest(".post-links");
    const tools = links.nextElementSibling;
    (tools && tools.matches(".post-tools") ? tools : links).after(form);
    form.querySelector("textarea").focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.reply-link");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && openReply(link)) {
      event.preventDefault();
    }
  });

  // --- Moving between posts ---------------------------------------------------
  // The posts one can see: not inside a folded thread.
  function visibleSummaries() {
    return Array.from(document.querySelectorAll("li.post > details > summary")).filter(
      (summary) => !summary.parentElement.parentElement.closest("details:not([open])"),
    );
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.key !== "j" && event.key !== "k" && event.key !== "n") return;
    const summaries = visibleSummaries();
    if (!summaries.length) return;
    const current = summaries.indexOf(document.activeElement);
    let next;
    if (event.key === "n") {
      // The next post new to the reader (li.post.new), after the one in focus.
      next = summaries.findIndex(
        (summary, index) => index > current && summary.closest("li.post").classList.contains("new"),
      );
      if (next === -1) return;
    } else {
      next = event.key === "j" ? current + 1 : current - 1;
      if (current === -1) next = event.key === "j" ? 0 : summaries.length - 1;
      next = Math.max(0, Math.min(summaries.length - 1, next));
    }
    summaries[next].focus();
    summaries[next].scrollIntoView({ block: "nearest" });
    event.preventDefault();
  });

  showRelativeTimes();
  setInterval(showRelativeTimes, 60 * 1000);
  if (document.querySelector("li.post")) {
    for (const hint of document.querySelectorAll(".keys-hint")) hint.hidden = false;
  }
})();
