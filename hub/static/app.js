// Small progressive enhancements; the pages work without them. No inline script: CSP.
"use strict";

// Forms with data-confirm ask before they submit (e.g. wiping a second factor).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// fetch() with the page's CSRF token, for scripts that change state.
window.zhFetch = (url, options = {}) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const headers = new Headers(options.headers || {});
  if (meta) headers.set("X-CSRF-Token", meta.content);
  return fetch(url, { credentials: "same-origin", ...options, headers });
};
