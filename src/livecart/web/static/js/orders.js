// My orders (status tabs, "load more"), and the helpers the other order pages share: their
// messages, error texts for the order API's codes, the remembered delivery address.
import { api, clone, errorText, field, formatTime, messages, money, page, showError, t } from "./core.js";

// The base page embeds only the older message groups; these pages bring their own.
Object.assign(messages, page.i18n || {});

export function orderError(err) {
  return messages[`orders.err.${err.code}`] || errorText(err);
}

// showError with the order API's codes in the page's language; the form keeps what was typed.
export function showOrderError(box, err, form) {
  showError(box, err, form);
  const msg = box?.querySelector('[data-role="error-message"]') || box;
  if (msg) msg.textContent = orderError(err);
}

export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

const SHIP_FIELDS = ["name", "phone", "region", "address"];
const shipKey = () => `lc.ship_to.${page.user?.id || 0}`;

// A field the buyer corrects is no longer marked wrong.
document.addEventListener("input", (event) => {
  event.target.removeAttribute?.("aria-invalid");
  const form = event.target.form;
  if (form && !form.querySelector('[aria-invalid="true"]')) {
    const box = form.querySelector('[data-role="form-error"]');
    if (box) box.hidden = true;
  }
});

export function readShipTo(form) {
  const out = {};
  for (const name of SHIP_FIELDS) out[name] = (form.elements[name]?.value || "").trim();
  return out;
}

// The address used last time on this device, for this account.
export function fillShipTo(form) {
  try {
    const saved = JSON.parse(localStorage.getItem(shipKey()) || "null");
    if (!saved) return;
    for (const name of SHIP_FIELDS) {
      const input = form.elements[name];
      if (input && !input.value && typeof saved[name] === "string") input.value = saved[name];
    }
  } catch {
    /* storage may be off: nothing to fill */
  }
}

export function saveShipTo(shipTo) {
  try {
    localStorage.setItem(shipKey(), JSON.stringify(shipTo));
  } catch {
    /* storage may be off or full */
  }
}

export const statusText = (status) => t(`orders.status.${status}`);

export function videoTime(ms) {
  const total = Math.floor((ms || 0) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function setImage(root, url, title) {
  const img = field(root, "img");
  const ph = field(root, "ph");
  if (url) {
    img.src = url;
    img.hidden = false;
    ph.hidden = true;
  } else {
    ph.textContent = (title || "").slice(0, 1);
  }
}

// --- the list ----------------------------------------------------------------------------------

// The chosen status tab in sight, however far along the row it is.
const currentTab = document.querySelector('.status-tabs [aria-current="page"]');
if (currentTab) {
  const row = currentTab.parentElement;
  row.scrollLeft += currentTab.getBoundingClientRect().left - row.getBoundingClientRect().left - 16;
}

const list = document.getElementById("orders-list");

function renderOrder(o) {
  const card = clone("tpl-order");
  card.dataset.orderId = o.id;
  card.dataset.status = o.status;
  const number = t("orders.number", { id: o.id });
  field(card, "number").textContent = o.merchant_name ? `${o.merchant_name} · ${number}` : number;
  const chip = field(card, "status");
  chip.textContent = statusText(o.status);
  chip.dataset.status = o.status;
  const refund = field(card, "refund");
  if (o.refund && o.status !== "refunded") {
    refund.textContent = t(`orders.refund.${o.refund.status}`);
    refund.hidden = false;
  }
  const first = o.items[0];
  setImage(card, first?.image_url, first?.title);
  field(card, "title").textContent = o.items.map((i) => i.title).join("、");
  field(card, "options").textContent = first ? Object.values(first.options).join(" / ") : "";
  const title = page.shows?.[String(o.show_id)];
  const from = field(card, "from");
  if (o.show_id && title) from.textContent = t("orders.from_show", { title });
  else from.remove();
  field(card, "sale").hidden = !o.sale_id;
  const count = o.items.reduce((n, i) => n + i.quantity, 0);
  field(card, "sum").textContent = t("orders.count_total", { n: count, total: money(o.total, o.currency) });
  const when = field(card, "when");
  when.dateTime = o.created_at;
  when.textContent = formatTime(o.created_at);
  for (const a of card.querySelectorAll("a[data-f]")) a.href = `/orders/${o.id}`;
  field(card, "pay").hidden = o.status !== "awaiting_payment";
  return card;
}

if (list) {
  const empty = document.getElementById("orders-empty");
  const loading = document.getElementById("orders-loading");
  const more = document.getElementById("load-more");
  const box = document.getElementById("orders-error");
  let cursor = null;

  const load = async () => {
    loading.hidden = false;
    more.hidden = true;
    try {
      const query = new URLSearchParams({ limit: "10" });
      if (page.status) query.set("status", page.status);
      if (cursor) query.set("cursor", cursor);
      const out = await api("GET", `/api/v1/orders?${query}`);
      for (const o of out.items) list.append(renderOrder(o));
      cursor = out.next_cursor;
      empty.hidden = list.children.length > 0;
    } catch (err) {
      box.textContent = orderError(err);
      box.hidden = false;
    } finally {
      loading.hidden = true;
      more.hidden = !cursor;
    }
  };
  more.addEventListener("click", load);
  load();
}
