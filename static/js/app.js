// Progressive enhancements. Every page works without this file; with it the seat map counts and
// limits the selection and follows live updates, and the checkout counts its hold down.
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", (event) => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
  });

  // Forms answered with 4xx re-render with their messages: let htmx swap them in.
  document.addEventListener("DOMContentLoaded", () => {
    if (window.htmx) {
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "[4]..", swap: true, error: false },
        { code: "...", swap: true, error: true },
      ];
    }
  });

  // ---- seat map ------------------------------------------------------------------------
  const money = (value) =>
    (document.body.dataset.currency || "Rs") + " " +
    Number(value).toLocaleString("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function seatSection() {
    return document.getElementById("seat-map-section");
  }

  function refreshSummary(note) {
    const section = seatSection();
    if (!section) return;
    const limit = Number(section.dataset.maxSeats || 6);
    const boxes = [...section.querySelectorAll('input[name="seats"]')];
    const ticked = boxes.filter((box) => box.checked);
    const total = ticked.reduce((sum, box) => sum + Number(box.dataset.fare || 0), 0);
    const count = document.getElementById("seat-count");
    const totalOut = document.getElementById("seat-total");
    if (count) count.textContent = String(ticked.length);
    if (totalOut) totalOut.textContent = ticked.length ? "· " + money(total) + " before GST" : "";
    const out = document.getElementById("seat-note");
    if (out && note !== undefined) out.textContent = note;
    // At the limit, further free seats cannot be ticked (the server refuses a 7th anyway).
    for (const box of boxes) {
      const label = box.closest(".seat");
      const free = label && (label.dataset.state === "available" || label.dataset.state === "yours");
      box.disabled = !free || (!box.checked && ticked.length >= limit);
    }
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "seats" || !seatSection()) return;
    const limit = Number(seatSection().dataset.maxSeats || 6);
    const ticked = seatSection().querySelectorAll('input[name="seats"]:checked').length;
    if (box.checked && ticked > limit) {
      box.checked = false;
      refreshSummary(`You can hold at most ${limit} seats at a time.`);
      return;
    }
    refreshSummary("");
  });

  // Live updates: drop messages older than what is shown; keep the customer's ticks; untick a
  // seat someone else just took, and say so.
  let shownVersion = null;
  let tickedBefore = new Set();
  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    const match = /data-version="(\d+)"/.exec(event.detail.message || "");
    const current = document.getElementById("seat-map-version");
    shownVersion = current ? Number(current.dataset.version) : shownVersion;
    if (match && shownVersion !== null && Number(match[1]) < shownVersion) {
      event.preventDefault();
      return;
    }
    tickedBefore = new Set(
      [...document.querySelectorAll('#seat-map-section input[name="seats"]:checked')].map((b) => b.value),
    );
  });
  document.addEventListener("htmx:wsAfterMessage", () => {
    const lost = [];
    for (const value of tickedBefore) {
      const box = document.querySelector(`#seat-map-section input[name="seats"][value="${value}"]`);
      if (!box) continue;
      const state = box.closest(".seat").dataset.state;
      if (state === "available" || state === "yours") {
        box.checked = true;
      } else {
        lost.push(value);
        box.closest(".seat").classList.add("seat-just-taken");
      }
    }
    refreshSummary(lost.length ? `Seat ${lost.join(", ")} was just taken by someone else and has been unticked.` : undefined);
  });

  document.addEventListener("DOMContentLoaded", () => refreshSummary());
  document.addEventListener("htmx:afterSettle", () => refreshSummary());

  // ---- hold countdown ------------------------------------------------------------------
  function tick() {
    const box = document.getElementById("hold-countdown");
    if (!box || box.classList.contains("countdown-over")) return;
    const expires = Date.parse(box.dataset.expiresAt);
    if (!box.dataset.loadedAt) box.dataset.loadedAt = String(Date.now());
    // The server's clock decides: correct for this device's clock being ahead or behind.
    const skew = Date.parse(box.dataset.serverNow) - Number(box.dataset.loadedAt);
    const left = Math.max(0, Math.round((expires - (Date.now() + skew)) / 1000));
    const clock = box.querySelector(".countdown-clock");
    if (clock) clock.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    box.classList.toggle("countdown-urgent", left < 120);
    if (left === 0) {
      box.classList.add("countdown-over");
      // The server decides; reloading shows the lapsed hold with the offer to revive it.
      window.location.reload();
    }
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
