// The booking desk, keyboard-first. Every element with data-key="x" is the action of key x:
// a link or button is clicked, a field is focused. Keys act when no field has the focus;
// Escape leaves a field (or follows the page's Escape action). The keys are shown on screen.
(() => {
  "use strict";
  const desk = () => document.querySelector("[data-desk]");
  const typing = (el) =>
    el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) &&
    !(el.tagName === "INPUT" && /^(checkbox|radio|button|submit)$/.test(el.type));

  document.addEventListener("keydown", (event) => {
    if (!desk() || event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    if (event.key === "Escape" && typing(active)) {
      active.blur();
      event.preventDefault();
      return;
    }
    if (event.key === "Enter" && active?.tagName === "SELECT" && active.form?.matches(".desk-sale-form")) {
      // A list does not submit its form on Enter by itself; at the desk it sells.
      event.preventDefault();
      active.form.requestSubmit(active.form.querySelector(".desk-sell-button"));
      return;
    }
    if (/^[1-9]$/.test(event.key) && active?.matches?.("[data-rows-by-digit]") && !active.value) {
      // An empty find field: a digit is the row's key (no city or bus number starts with one).
      const row = desk().querySelector(`[data-key="${event.key}"]`);
      if (row) {
        event.preventDefault();
        row.click();
      }
      return;
    }
    if (typing(active)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const target = desk().querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!target) return;
    event.preventDefault();
    if (typing(target)) {
      target.focus();
      target.select?.();
    } else {
      target.click();
    }
  });

  // The sale: passenger 1 is the contact unless unticked; the change due as cash is typed;
  // the fields of the chosen payment method only.
  const sale = () => document.querySelector(".desk-sale-form");
  const sync = () => {
    const form = sale();
    if (!form) return;
    const same = form.querySelector('[name="same_contact"]');
    const first = form.querySelector(".same-as-contact");
    const contact = form.querySelector('[name="contact_name"]');
    if (same && first && contact) {
      if (same.checked) first.value = contact.value;
      first.readOnly = same.checked;
      first.tabIndex = same.checked ? -1 : 0;
    }
    const method = form.querySelector('[name="method"]:checked')?.value;
    const show = (name, on) => {
      const field = form.querySelector(`[name="${name}"]`)?.closest(".field");
      if (field) field.hidden = !on;
    };
    show("tendered", method === "cash");
    show("terminal_reference", method === "debit_card" || method === "upi");
    show("reason", method === "complimentary");
    const total = Number(document.getElementById("sale-total")?.dataset.total);
    const tendered = Number(form.querySelector('[name="tendered"]')?.value || NaN);
    const change = document.getElementById("change-due");
    if (change) {
      change.textContent =
        method === "cash" && tendered >= 0 && !Number.isNaN(tendered)
          ? tendered >= total
            ? (tendered - total).toFixed(2)
            : `short by ${(total - tendered).toFixed(2)}`
          : "—";
    }
  };
  document.addEventListener("input", sync);
  document.addEventListener("change", sync);
  document.addEventListener("htmx:afterSwap", sync);
  document.addEventListener("DOMContentLoaded", sync);
})();
