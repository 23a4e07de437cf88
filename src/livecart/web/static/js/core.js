// Shared helpers for every page: messages, the JSON API with CSRF, errors, money and times.
// User data always goes into the page through textContent, never innerHTML.

const readJSON = (id) => JSON.parse(document.getElementById(id)?.textContent || "{}");
export const messages = readJSON("lc-i18n");
export const page = readJSON("lc-page");

export function t(key, vars = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || `http_${status}`;
    this.data = body?.data || {};
  }
}

export async function api(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, { code: "network", message: t("err.network") });
  }
  if (resp.status === 204) return null;
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, data || { message: resp.statusText });
  return data;
}

export function errorText(err) {
  return messages[`err.${err.code}`] || err.message || t("err.unknown");
}

function fieldLabel(form, name) {
  const input = form?.querySelector(`[name="${CSS.escape(name)}"]`);
  const label = input?.closest("label")?.querySelector("span");
  return label ? label.firstChild.textContent.trim() : name;
}

// Show an API error in a box (the form_error partial or a plain alert) and mark the fields.
export function showError(box, err, form) {
  if (!box) return;
  clearError(box, form);
  const msg = box.querySelector('[data-role="error-message"]');
  const details = box.querySelector('[data-role="error-details"]');
  const code = box.querySelector('[data-role="error-code"]');
  (msg || box).textContent = errorText(err);
  if (code) code.textContent = err.code;
  const problems = Array.isArray(err.data?.errors) ? err.data.errors : [];
  if (err.data?.field) problems.push({ loc: ["body", err.data.field], msg: "" });
  for (const p of problems) {
    const loc = (p.loc || []).filter((part) => part !== "body");
    const name = loc.find((part) => form?.querySelector(`[name="${CSS.escape(String(part))}"]`));
    if (name && form) form.querySelector(`[name="${CSS.escape(String(name))}"]`).setAttribute("aria-invalid", "true");
    if (details && p.msg) {
      const li = document.createElement("li");
      li.textContent = `${name ? fieldLabel(form, String(name)) : loc.join(".")}: ${p.msg}`;
      details.append(li);
    }
  }
  box.hidden = false;
  box.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

export function clearError(box, form) {
  if (box) {
    box.hidden = true;
    const details = box.querySelector('[data-role="error-details"]');
    if (details) details.replaceChildren();
  }
  form?.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
}

export function money(amount, currency = "CNY") {
  if (amount === null || amount === undefined) return "—";
  const digits = page.digits?.[currency] ?? 2;
  const symbol = page.symbols?.[currency] ?? `${currency} `;
  const n = Number(amount).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return symbol + n;
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();

export function formatTime(iso, style = "short") {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const lang = page.lang || "en";
  const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(when);
  const now = new Date();
  const tomorrow = new Date(now.getTime() + 86400000);
  if (style === "short" && sameDay(when, now)) return `${t("time.today")} ${clock}`;
  if (style === "short" && sameDay(when, tomorrow)) return `${t("time.tomorrow")} ${clock}`;
  const opts = { month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" };
  if (when.getFullYear() !== now.getFullYear()) opts.year = "numeric";
  return new Intl.DateTimeFormat(lang, opts).format(when);
}

export function localTimes(root = document) {
  root.querySelectorAll("time[datetime][data-format]").forEach((el) => {
    const text = formatTime(el.getAttribute("datetime"), el.dataset.format);
    if (text) el.textContent = text;
  });
}

export const field = (root, name) => root.querySelector(`[data-f="${name}"]`);
export const clone = (id) => document.getElementById(id).content.firstElementChild.cloneNode(true);

export function setBusy(button, busy) {
  if (!button) return;
  button.disabled = busy;
  button.classList.toggle("is-busy", busy);
}

export function loginUrl() {
  return `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}

export function toast(text) {
  let box = document.getElementById("toast");
  if (!box) {
    box = document.createElement("div");
    box.id = "toast";
    box.className = "toast";
    box.setAttribute("role", "status");
    document.body.append(box);
  }
  box.textContent = text;
  box.classList.add("is-shown");
  clearTimeout(box._timer);
  box._timer = setTimeout(() => box.classList.remove("is-shown"), 2600);
}

function init() {
  localTimes();
  document.querySelectorAll('[data-action="logout"]').forEach((btn) =>
    btn.addEventListener("click", async () => {
      setBusy(btn, true);
      try {
        await api("POST", "/api/v1/auth/logout");
      } catch (err) {
        if (err.status !== 401) {
          setBusy(btn, false);
          toast(errorText(err));
          return;
        }
      }
      location.href = "/";
    }),
  );
}

init();
