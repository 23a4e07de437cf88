// The host's shows: schedule (with lineup), stream key, lineup edits, cover, cancel.
import { api, clearError, clone, field, formatTime, money, page, setBusy, showError, t, toast } from "./core.js";

const list = document.getElementById("show-list");
const empty = document.getElementById("show-empty");
const loading = document.getElementById("show-loading");
const more = document.getElementById("load-more");
const listError = document.getElementById("list-error");
const form = document.getElementById("schedule-form");
const keyPanel = document.getElementById("key-panel");
let cursor = null;

// A product picker (checkbox list) over GET /api/v1/hosts/me/products with "load more".
function picker(root, selected = new Set()) {
  const ul = field(root, "pick-list");
  const moreBtn = field(root, "pick-more");
  let next = null;
  async function loadPage() {
    const query = new URLSearchParams({ limit: "20" });
    if (next) query.set("cursor", next);
    const out = await api("GET", `/api/v1/hosts/me/products?${query}`);
    for (const p of out.items) {
      const li = clone("tpl-pick");
      const box = li.querySelector("input");
      box.value = p.id;
      box.checked = selected.has(p.id);
      li.querySelector(".pick-title").textContent = p.title;
      li.querySelector(".price").textContent = money(p.price_from, p.currency);
      const img = li.querySelector("img");
      if (p.images.length) {
        img.src = p.images[0].url;
        img.hidden = false;
        li.querySelector(".thumb-ph").remove();
      } else {
        li.querySelector(".thumb-ph").textContent = p.title.slice(0, 1);
      }
      ul.append(li);
    }
    next = out.next_cursor;
    moreBtn.hidden = !next;
    field(root, "pick-empty").hidden = ul.children.length > 0;
  }
  moreBtn.onclick = () => loadPage().catch((err) => toast(err.message));
  return {
    load: loadPage,
    chosen: () => [...ul.querySelectorAll("input:checked")].map((b) => Number(b.value)),
    reset() {
      ul.querySelectorAll("input:checked").forEach((b) => { b.checked = false; });
    },
  };
}

function stateBadge(el, state) {
  el.textContent = t(`state.${state}`);
  el.className = `badge ${state === "live" ? "badge-live" : state === "scheduled" ? "badge-soon" : "badge-muted"}`;
}

function renderShow(s) {
  const card = clone("tpl-show");
  card.dataset.showId = s.id;
  card._show = s;
  const cover = field(card, "cover");
  if (s.cover_url) {
    const img = field(card, "cover-img");
    img.src = s.cover_url;
    img.hidden = false;
    cover.classList.remove("cover-placeholder");
    field(card, "initial").remove();
  } else {
    cover.classList.add(`tone-${s.id % 6}`);
    field(card, "initial").textContent = s.title.slice(0, 1);
  }
  stateBadge(field(card, "state"), s.state);
  field(card, "title").textContent = s.title;
  const time = field(card, "time");
  time.dateTime = s.planned_start;
  time.textContent = formatTime(s.planned_start);
  field(card, "reminders").textContent = t("host.reminders_n", { n: s.reminders_count });
  const thumbs = field(card, "thumbs");
  for (const item of s.lineup.slice(0, 6)) {
    const li = document.createElement("li");
    li.title = item.product.title;
    if (item.product.images.length) {
      const img = document.createElement("img");
      img.src = item.product.images[0].url;
      img.alt = item.product.title;
      li.append(img);
    } else {
      const ph = document.createElement("span");
      ph.className = "thumb-ph";
      ph.textContent = item.product.title.slice(0, 1);
      li.append(ph);
    }
    thumbs.append(li);
  }
  if (!s.lineup.length) thumbs.remove();
  field(card, "preview").href = s.state === "live" ? `/shows/${s.id}/live` : `/shows/${s.id}`;
  const editable = s.state === "scheduled" || s.state === "live";
  const consoleLink = field(card, "console");
  consoleLink.href = `/host/shows/${s.id}/console`;
  consoleLink.hidden = !editable;
  for (const act of ["lineup", "rotate"]) card.querySelector(`[data-act="${act}"]`).hidden = !editable;
  field(card, "cover-btn").hidden = !editable;
  card.querySelector('[data-act="cancel"]').hidden = s.state !== "scheduled";
  return card;
}

function showKey(showTitle, key) {
  field(keyPanel, "key").textContent = key;
  field(keyPanel, "key-show").textContent = showTitle;
  keyPanel.hidden = false;
  keyPanel.scrollIntoView({ block: "start", behavior: "smooth" });
}

keyPanel.querySelector('[data-action="copy-key"]').addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(field(keyPanel, "key").textContent);
    toast(t("host.copied"));
  } catch {
    getSelection().selectAllChildren(field(keyPanel, "key"));
  }
});
keyPanel.querySelector('[data-action="hide-key"]').addEventListener("click", () => {
  keyPanel.hidden = true;
  field(keyPanel, "key").textContent = "";
});

function openLineup(card) {
  const s = card._show;
  const panel = field(card, "panel");
  const editor = clone("tpl-lineup-form");
  panel.replaceChildren(editor);
  const pick = picker(editor, new Set(s.lineup.map((item) => item.product.id)));
  pick.load().catch((err) => showError(editor.querySelector('[data-role="form-error"]'), err));
  editor.querySelector('[data-act="close"]').addEventListener("click", () => panel.replaceChildren());
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = editor.querySelector('[data-role="form-error"]');
    const button = editor.querySelector('button[type="submit"]');
    clearError(box);
    setBusy(button, true);
    try {
      const out = await api("PUT", `/api/v1/shows/${s.id}/lineup`, { product_ids: pick.chosen() });
      card.replaceWith(renderShow(out));
      toast(t("host.lineup_saved"));
    } catch (err) {
      showError(box, err);
      setBusy(button, false);
    }
  });
}

async function onAction(card, action, button) {
  const s = card._show;
  const box = field(card, "error");
  clearError(box);
  if (action === "lineup") return openLineup(card);
  if (action === "rotate" && !confirm(t("host.rotate_confirm"))) return;
  if (action === "cancel" && !confirm(t("host.cancel_confirm"))) return;
  setBusy(button, true);
  try {
    if (action === "rotate") {
      const out = await api("POST", `/api/v1/shows/${s.id}/stream-key`);
      showKey(s.title, out.stream_key);
    } else if (action === "cancel") {
      card.replaceWith(renderShow(await api("POST", `/api/v1/shows/${s.id}/cancel`)));
    }
  } catch (err) {
    showError(box, err);
  } finally {
    setBusy(button, false);
  }
}

list.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-act]");
  if (button) onAction(button.closest(".host-show"), button.dataset.act, button);
});
list.addEventListener("change", async (event) => {
  const input = event.target;
  if (!input.matches('input[data-act="cover"]') || !input.files?.[0]) return;
  const card = input.closest(".host-show");
  const body = new FormData();
  body.append("file", input.files[0]);
  try {
    card.replaceWith(renderShow(await api("POST", `/api/v1/shows/${card._show.id}/cover`, body)));
    toast(t("host.cover_saved"));
  } catch (err) {
    showError(field(card, "error"), err);
    input.value = "";
  }
});

async function load() {
  loading.hidden = false;
  more.hidden = true;
  try {
    const query = new URLSearchParams({ host_id: String(page.user.id), limit: "10" });
    if (cursor) query.set("cursor", cursor);
    const out = await api("GET", `/api/v1/shows?${query}`);
    for (const s of out.items) list.append(renderShow(s));
    cursor = out.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
  } catch (err) {
    showError(listError, err);
  } finally {
    loading.hidden = true;
  }
}

// datetime-local has no zone: read it as local time and send ISO 8601 in UTC.
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

const schedulePicker = picker(form);
let pickerLoaded = false;

function toggleSchedule(open) {
  form.hidden = !open;
  document.querySelectorAll('[data-action="toggle-schedule"]').forEach((b) => b.setAttribute("aria-expanded", String(open)));
  if (!open) return;
  if (!form.elements.planned_start.value) {
    const soon = new Date(Date.now() + 3600000);
    soon.setMinutes(0, 0, 0);
    form.elements.planned_start.value = localInputValue(soon);
  }
  field(form, "tz").textContent = t("host.timezone", { tz: Intl.DateTimeFormat().resolvedOptions().timeZone });
  if (!pickerLoaded) {
    pickerLoaded = true;
    schedulePicker.load().catch((err) => showError(form.querySelector('[data-role="form-error"]'), err, form));
  }
  form.elements.title.focus();
}

document.querySelectorAll('[data-action="toggle-schedule"]').forEach((b) =>
  b.addEventListener("click", () => toggleSchedule(form.hidden)),
);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = form.querySelector('[data-role="form-error"]');
  const button = form.querySelector('button[type="submit"]');
  clearError(box, form);
  const local = form.elements.planned_start.value;
  const start = local ? new Date(local) : null;
  if (!start || Number.isNaN(start.getTime())) {
    showError(box, { code: "planned_start_required", message: t("err.planned_start_required"), data: { field: "planned_start" } }, form);
    return;
  }
  setBusy(button, true);
  try {
    const body = {
      title: form.elements.title.value.trim(),
      description: form.elements.description.value.trim(),
      planned_start: start.toISOString(),
      product_ids: schedulePicker.chosen(),
    };
    const created = await api("POST", "/api/v1/shows", body);
    const { stream_key: key, ...show } = created;
    list.prepend(renderShow(show));
    empty.hidden = true;
    form.reset();
    schedulePicker.reset();
    toggleSchedule(false);
    showKey(show.title, key);
    toast(t("host.scheduled"));
  } catch (err) {
    showError(box, err, form);
  } finally {
    setBusy(button, false);
  }
});

if (new URLSearchParams(location.search).has("new")) toggleSchedule(true);
more.addEventListener("click", load);
load();
