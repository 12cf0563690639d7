// Small progressive enhancements; every page works without this file.
document.addEventListener("htmx:configRequest", (event) => {
  // Keep the CSRF token fresh for htmx requests (the meta tag is re-rendered with each page).
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
});
