// The merchant's orders (or one of them, at /merchant/orders/ID): status tabs, refunds to decide
// and a show filter (links and a GET form), "load more",
// shipping with carrier and tracking number, marking delivered, deciding refund requests.
import { api, clearError, clone, field, formatTime, money, page, setBusy, t, toast } from "./core.js";
import { orderError, showOrderError, statusText } from "./orders.js";

const $ = (id) => document.getElementById(id);
const list = $("morders-list");
const empty = $("orders-empty");
const loading = $("orders-loading");
const more = $("load-more");
let cursor = null;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function renderItems(ul, o) {
  ul.replaceChildren(
    ...o.items.map((i) => {
      const li = document.createElement("li");
      const title = document.createElement("span");
      title.className = "mo-title";
      title.textContent = i.title;
      const opts = document.createElement("span");
      opts.className = "muted";
      opts.textContent = Object.values(i.options).join(" / ");
      const qty = document.createElement("span");
      qty.className = "mo-qty";
      qty.textContent = `${money(i.unit_price, o.currency)} ×${i.quantity}`;
      li.append(title, opts, qty);
      return li;
    }),
  );
}

function renderOrder(o) {
  const card = clone("tpl-morder");
  card.dataset.orderId = o.id;
  card.dataset.status = o.status;
  card._order = o;
  const number = field(card, "number");
  number.textContent = t("orders.number", { id: o.id });
  number.href = `/merchant/orders/${o.id}`;
  const chip = field(card, "status");
  chip.textContent = statusText(o.status);
  chip.dataset.status = o.status;
  renderItems(field(card, "items"), o);
  const title = page.shows?.[String(o.show_id)];
  field(card, "from").textContent = o.show_id && title ? t("orders.from_show", { title }) : "";
  field(card, "sale").hidden = !o.sale_id;
  const ship = field(card, "ship_to");
  if (o.ship_to) {
    const name = document.createElement("strong");
    name.textContent = `${o.ship_to.name} ${o.ship_to.phone}`;
    ship.replaceChildren(name, document.createElement("br"), `${o.ship_to.region} ${o.ship_to.address}`);
  } else {
    ship.textContent = t("morders.no_address");
    ship.classList.add("muted");
  }
  if (o.tracking_number) {
    const tracking = field(card, "tracking");
    tracking.textContent = t("order.tracking", { carrier: o.carrier, number: o.tracking_number });
    tracking.hidden = false;
  }
  const when = field(card, "when");
  when.dateTime = o.created_at;
  when.textContent = t("morders.placed", { time: formatTime(o.created_at) });
  field(card, "total").textContent = money(o.total, o.currency);

  const refund = o.refund;
  const open = refund && (refund.status === "requested" || refund.status === "approved");
  if (refund && o.status !== "refunded") {
    const badge = field(card, "refund");
    badge.textContent = t(`orders.refund.${refund.status}`);
    badge.hidden = false;
  }
  if (refund) {
    field(card, "refund_box").hidden = false;
    field(card, "refund_title").textContent =
      refund.status === "requested"
        ? t("morders.refund_request", { amount: money(refund.amount, o.currency) })
        : t(`morders.refund.${refund.status}`);
    field(card, "refund_reason").textContent = t("order.refund_reason_shown", { reason: refund.reason });
    field(card, "decide").hidden = refund.status !== "requested";
  }
  card.querySelector('[data-act="open-ship"]').hidden = !(o.status === "paid" && !open);
  card.querySelector('[data-act="deliver"]').hidden = o.status !== "shipped";
  return card;
}

function replace(card, order) {
  const fresh = renderOrder(order);
  card.replaceWith(fresh);
  if (order.refund?.status === "approved" && order.status !== "refunded") watchRefund(fresh);
  return fresh;
}

// An approved refund ends when the provider confirms; show that when it happens.
async function watchRefund(card) {
  const id = card.dataset.orderId;
  for (let i = 0; i < 40 && card.isConnected; i += 1) {
    await sleep(1500);
    try {
      const now = await api("GET", `/api/v1/orders/${id}`);
      if (now.status === "refunded" || now.refund?.status !== "approved") {
        if (card.isConnected) replace(card, now);
        return;
      }
    } catch {
      /* try again */
    }
  }
}

async function act(card, button, path, body, done) {
  const box = card.querySelector('[data-role="form-error"]');
  const form = button.closest("form");
  clearError(box, form);
  setBusy(button, true);
  try {
    const order = await api("POST", `/api/v1/merchants/me/orders/${card.dataset.orderId}/${path}`, body);
    replace(card, order);
    toast(done);
  } catch (err) {
    showOrderError(box, err, form);
    setBusy(button, false);
  }
}

list.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-act]");
  const card = event.target.closest(".order-card");
  if (!button || !card) return;
  const action = button.dataset.act;
  if (action === "open-ship" || action === "close-ship") {
    const form = field(card, "ship");
    form.hidden = action === "close-ship";
    card.querySelector('[data-act="open-ship"]').hidden = !form.hidden;
    if (!form.hidden) form.elements.carrier.focus();
  } else if (action === "deliver") {
    act(card, button, "deliver", undefined, t("morders.delivered"));
  } else if (action === "approve" || action === "reject") {
    const form = field(card, "decide");
    const note = form.elements.note.value.trim();
    act(card, button, "refund-decision", {
      approve: action === "approve",
      restock: form.elements.restock.checked,
      note: note || null,
    }, t("morders.decided"));
  }
});

list.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches(".mo-ship")) return;
  event.preventDefault();
  const card = form.closest(".order-card");
  act(card, form.querySelector('button[type="submit"]'), "ship", {
    carrier: form.elements.carrier.value.trim(),
    tracking_number: form.elements.tracking_number.value.trim(),
  }, t("morders.shipped"));
});

$("show-filter")?.addEventListener("change", (event) => event.currentTarget.submit());

async function load() {
  loading.hidden = false;
  more.hidden = true;
  try {
    const query = new URLSearchParams({ limit: "10" });
    if (page.status) query.set("status", page.status);
    if (page.refund) query.set("refund", page.refund);
    if (page.show_id) query.set("show_id", String(page.show_id));
    if (cursor) query.set("cursor", cursor);
    const out = page.order_id
      ? { items: [await api("GET", `/api/v1/orders/${page.order_id}`)], next_cursor: null }
      : await api("GET", `/api/v1/merchants/me/orders?${query}`);
    for (const o of out.items) {
      const card = renderOrder(o);
      list.append(card);
      if (o.refund?.status === "approved" && o.status !== "refunded") watchRefund(card);
    }
    cursor = out.next_cursor;
    empty.hidden = list.children.length > 0;
  } catch (err) {
    const box = $("orders-error");
    box.textContent = orderError(err);
    box.hidden = false;
  } finally {
    loading.hidden = true;
    more.hidden = !cursor;
  }
}

more.addEventListener("click", load);
load();
