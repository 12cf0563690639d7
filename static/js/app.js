// Progressive enhancements. Every page works without this file; with it the seat map limits the
// selection at once and follows live updates, search results are announced, and the
// checkout counts its hold down.
(function () {
  "use strict";

  // Controls that only serve pages without script (class without-script) hide from here on.
  document.documentElement.classList.add("js");

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

  // A button marked data-print prints the page (the CSP allows no inline onclick).
  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-print]")) window.print();
  });

  // A boosted link or form swaps the whole body and the focused element goes with it: start
  // the keyboard and a screen reader at the new page's content instead of nowhere.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!event.detail.boosted) return;
    const main = document.getElementById("main");
    if (main && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  });

  // ---- check-in at the bus door -------------------------------------------------------------
  // Only the answer swaps: empty the scan field and put the cursor back for the next scan.
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || form.id !== "scan-form") return;
    const field = form.querySelector('input[name="token"]');
    if (field) {
      field.value = "";
      field.focus();
    }
  });

  // ---- search ----------------------------------------------------------------------------
  // Results swapped in place are not read out in full: a short status says what came back.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "results") return;
    const title = event.detail.target.querySelector(".results-title");
    const status = document.getElementById("results-status");
    if (title && status) status.textContent = title.textContent.replace(/\s+/g, " ").trim();
  });

  // ---- seat map --------------------------------------------------------------------------
  // The count, the chosen seats and the running total come from the server (the seat tally
  // asks the one pricing function on every change); this file only refuses a 7th seat at once.
  const seatSection = () => document.getElementById("seat-map-section");
  const seatBoxes = () => [...document.querySelectorAll('#seat-map-section input[name="seats"]')];
  const seatBox = (value) =>
    document.querySelector(`#seat-map-section input[name="seats"][value="${CSS.escape(value)}"]`);
  const maxSeats = () => Number(seatSection()?.dataset.maxSeats || 6);

  function sayNote(note) {
    const out = document.getElementById("seat-note");
    if (out && note !== undefined) out.textContent = note;
  }

  // A 7th seat is refused here at once (the server refuses it anyway), before the tally hears
  // of the change (capture phase); the seats stay focusable so a keyboard user can still move
  // across the map and untick one.
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "seats" || !seatSection()) return;
    const ticked = seatBoxes().filter((b) => b.checked).length;
    if (box.checked && ticked > maxSeats()) {
      box.checked = false;
      event.stopPropagation();
      sayNote(`You can hold at most ${maxSeats()} seats at a time. Untick one to choose another.`);
      return;
    }
    sayNote("");
  }, true);

  // Admin lists: "choose all on this page" ticks (or unticks) every row's box of its form;
  // without this file the box posts all_on_page and the server takes the whole page.
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    if (box.dataset.choose && !box.checked) {
      // One row unticked: "all on this page" no longer holds (the server would take them all).
      const all = document.querySelector(`input[data-choose-all="${box.dataset.choose}"]`);
      if (all) all.checked = false;
      return;
    }
    if (!box.dataset.chooseAll) return;
    const form = box.dataset.chooseAll;
    document.querySelectorAll(`input[data-choose="${form}"]`).forEach((row) => {
      row.checked = box.checked;
    });
  });

  // Live updates: drop messages older than what is shown; keep the customer's ticks and focus;
  // untick a seat someone else just took, and say so.
  let tickedBefore = new Set();
  let focusedBefore = null;
  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    const match = /data-version="(\d+)"/.exec(event.detail.message || "");
    const current = document.getElementById("seat-map-version");
    const shown = current ? Number(current.dataset.version) : null;
    if (match && shown !== null && Number(match[1]) < shown) {
      event.preventDefault();
      return;
    }
    tickedBefore = new Set(seatBoxes().filter((b) => b.checked).map((b) => b.value));
    const active = document.activeElement;
    focusedBefore = active instanceof HTMLInputElement && active.name === "seats" ? active.value : null;
  });
  document.addEventListener("htmx:wsAfterMessage", () => {
    const lost = [];
    for (const value of tickedBefore) {
      const box = seatBox(value);
      if (!box) continue;
      const state = box.closest(".seat").dataset.state;
      if (state === "available" || state === "yours") {
        box.checked = true;
      } else {
        box.checked = false;
        lost.push(value);
        box.closest(".seat").classList.add("seat-just-taken");
      }
    }
    // A swapped cell is a new element: put the keyboard focus back where it was.
    if (focusedBefore && !document.activeElement?.closest?.("#seat-map-section")) {
      const box = seatBox(focusedBefore);
      if (box && !box.disabled) box.focus({ preventScroll: true });
    }
    const section = seatSection();
    if (section) section.dataset.synced = "true";
    const verb = lost.length === 1 ? "was" : "were";
    if (lost.length) {
      sayNote(`Seat ${lost.join(", ")} ${verb} just taken by someone else and has been unticked.`);
      document.body.dispatchEvent(new CustomEvent("seats-changed"));  // the tally asks again
    }
  });

  function showLive(state) {
    const live = document.getElementById("seat-live");
    if (!live) return;
    live.hidden = false;
    live.dataset.state = state;
    const text = live.querySelector(".seat-live-text");
    if (text) text.textContent = state === "open" ? "Seats update live" : "Reconnecting for live seat updates…";
  }
  document.addEventListener("htmx:wsOpen", () => showLive("open"));
  document.addEventListener("htmx:wsClose", () => showLive("offline"));


  // ---- hold countdown --------------------------------------------------------------------
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
    // The clock itself is not read out every second; one polite word when time runs short.
    const alert = document.getElementById("countdown-alert");
    if (alert && left > 0 && left < 120 && !box.dataset.warned) {
      box.dataset.warned = "true";
      alert.textContent = "Less than two minutes left to pay before your seats are released.";
    }
    if (left === 0) {
      box.classList.add("countdown-over");
      // The server decides; reloading shows the lapsed hold with the offer to revive it.
      window.location.reload();
    }
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // ---- the admin's live-holds console: each hold's time left, counted down between refreshes
  function tickHolds() {
    document.querySelectorAll(".hold-clock[data-expires-at]").forEach((clock) => {
      if (!clock.dataset.loadedAt) clock.dataset.loadedAt = String(Date.now());
      const skew = Date.parse(clock.dataset.serverNow) - Number(clock.dataset.loadedAt);
      const left = Math.max(0, Math.round((Date.parse(clock.dataset.expiresAt) - (Date.now() + skew)) / 1000));
      clock.textContent = left ? `${Math.floor(left / 60)}m ${String(left % 60).padStart(2, "0")}s` : "lapsed";
      const row = clock.closest("tr");
      if (row) row.classList.toggle("hold-lapsing", left > 0 && left <= Number(clock.dataset.lapsing));
    });
  }
  setInterval(tickHolds, 1000);
})();
