// Progressive enhancement for `coffer browse`: every page works without this file.
// Loaded from 'self' under a CSP without inline script; it only moves the server's own,
// already-escaped markup around (DOMParser never runs scripts) and reads no message text.
"use strict";

function loadInto(link, where) {
  link.classList.add("loading");
  return fetch(link.href, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
    .then((html) => {
      const doc = new DOMParser().parseFromString(html, "text/html");
      const list = document.querySelector(".messages");
      const got = doc.querySelector(".messages");
      if (!list || !got) return;
      const items = Array.from(got.querySelectorAll("article.msg"));
      const same = doc.querySelector("a.more." + (where === "end" ? "newer" : "older"));
      if (where === "end") {
        items.forEach((n) => list.appendChild(document.adoptNode(n)));
      } else {
        const before = document.documentElement.scrollHeight;
        items.reverse().forEach((n) => list.insertBefore(document.adoptNode(n), list.firstChild));
        window.scrollBy(0, document.documentElement.scrollHeight - before);
      }
      if (same) { link.href = same.href; link.classList.remove("loading"); }
      else { link.remove(); }
    })
    .catch(() => link.classList.remove("loading"));
}

function enhanceThread() {
  const newer = document.querySelector("a.more.newer");
  const older = document.querySelector("a.more.older");
  [newer, older].forEach((link) => {
    if (!link) return;
    link.addEventListener("click", (ev) => {
      ev.preventDefault();
      if (!link.classList.contains("loading")) loadInto(link, link === newer ? "end" : "start");
    });
  });
  if (newer && "IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      entries.forEach((e) => {
        if (e.isIntersecting && document.contains(newer) && !newer.classList.contains("loading")) {
          loadInto(newer, "end");
        }
      });
    }, { rootMargin: "400px" }).observe(newer);
  }
  const params = new URLSearchParams(location.search);
  if (!location.hash && !params.has("after") && !params.has("date") && !params.has("before")) {
    // the newest page opens at its bottom, like a chat app; again once images have their size
    let moved = false;
    const bottom = () => { if (!moved) window.scrollTo(0, document.documentElement.scrollHeight); };
    bottom();
    window.addEventListener("wheel", () => { moved = true; }, { once: true });
    window.addEventListener("keydown", () => { moved = true; }, { once: true });
    window.addEventListener("load", bottom);
    document.querySelectorAll(".media img").forEach((img) => img.addEventListener("load", bottom));
  }
}

function enhanceMedia() {
  document.addEventListener("error", (ev) => {
    const img = ev.target;
    if (!(img instanceof HTMLImageElement)) return;
    const note = document.createElement("span");
    note.className = "broken";
    note.textContent = (img.alt || "image") + " (cannot be shown; the link downloads it)";
    img.replaceWith(note);
  }, true);
}

function refreshWhenAsked() {
  const el = document.querySelector("[data-refresh]");
  if (el) setTimeout(() => location.reload(), 1000 * Number(el.dataset.refresh || 2));
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.querySelector("main.thread")) enhanceThread();
  enhanceMedia();
  refreshWhenAsked();
});
