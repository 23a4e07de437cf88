// The cart: quantities, removal, and checkout with a delivery address. One press of "place
// order" is one Idempotency-Key, so a retry after a lost answer cannot order twice.
import { api, clearError, clone, field, money, page, setBusy, t, toast } from "./core.js";
import { fillShipTo, newKey, orderError, readShipTo, saveShipTo, setImage, showOrderError, videoTime } from "./orders.js";

const $ = (id) => document.getElementById(id);
const lines = $("cart-lines");
const form = $("checkout-form");
const box = form.querySelector('[data-role="form-error"]');
let cart = page.cart || { lines: [], totals: {} };
let key = newKey();

function fromText(line) {
  const title = page.shows?.[String(line.show_id)];
  if (!line.show_id || !title) return "";
  if (line.source === "replay") return t("cart.from_replay", { title, time: videoTime(line.video_time_ms) });
  if (line.source === "link_out") return t("cart.from_link", { title });
  return t("cart.from_show", { title });
}

function renderLine(line) {
  const li = clone("tpl-line");
  li.dataset.variantId = line.variant_id;
  setImage(li, line.image_url, line.title);
  field(li, "title").textContent = line.title;
  field(li, "options").textContent = Object.entries(line.options).map(([k, v]) => `${k}: ${v}`).join(" · ");
  const from = field(li, "from");
  from.textContent = fromText(line);
  from.hidden = !from.textContent;
  const link = field(li, "link");
  if (line.show_id) link.href = `/shows/${line.show_id}`;
  else link.removeAttribute("href");
  field(li, "price").textContent = money(line.unit_price, line.currency);
  field(li, "qty").textContent = String(line.quantity);
  const warn = field(li, "warn");
  if (line.stock <= 0) warn.textContent = t("cart.sold_out");
  else if (line.stock < line.quantity || line.stock <= 5) warn.textContent = t("cart.stock_low", { n: line.stock });
  warn.hidden = !warn.textContent;
  li.classList.toggle("is-out", line.stock <= 0);
  li.querySelector('[data-act="less"]').disabled = line.quantity <= 1;
  li.querySelector('[data-act="more"]').disabled = line.quantity >= Math.min(99, Math.max(1, line.stock));
  return li;
}

function render() {
  lines.replaceChildren(...cart.lines.map(renderLine));
  const has = cart.lines.length > 0;
  lines.hidden = !has;
  form.hidden = !has;
  $("cart-empty").hidden = has;
  const count = cart.lines.reduce((n, l) => n + l.quantity, 0);
  $("cart-count").textContent = has ? t("cart.count", { n: count }) : "";
  $("cart-total").textContent = Object.entries(cart.totals).map(([c, v]) => money(v, c)).join(" + ");
}

async function setQuantity(variantId, quantity, button) {
  const alert = $("cart-error");
  alert.hidden = true;
  setBusy(button, true);
  try {
    cart = await api("PATCH", `/api/v1/cart/items/${variantId}`, { quantity });
    key = newKey(); // a different bag is a different order
    render();
    if (quantity === 0) toast(t("cart.removed"));
  } catch (err) {
    alert.textContent = orderError(err);
    alert.hidden = false;
    setBusy(button, false);
  }
}

lines.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-act]");
  const li = event.target.closest(".oc-line");
  if (!button || !li) return;
  const line = cart.lines.find((l) => String(l.variant_id) === li.dataset.variantId);
  if (!line) return;
  const next = { less: line.quantity - 1, more: line.quantity + 1, remove: 0 }[button.dataset.act];
  setQuantity(line.variant_id, next, button);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  clearError(box, form);
  const shipTo = readShipTo(form);
  const missing = Object.entries(shipTo).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) {
    for (const name of missing) form.elements[name].setAttribute("aria-invalid", "true");
    showOrderError(box, { code: "ship_to_required", data: {} }, form);
    form.elements[missing[0]].focus();
    return;
  }
  setBusy(button, true);
  try {
    const orders = await api("POST", "/api/v1/checkout", { ship_to: shipTo }, { "Idempotency-Key": key });
    saveShipTo(shipTo);
    if (orders.length !== 1) {
      toast(t("cart.placed_many", { n: orders.length }));
      location.href = "/orders?status=awaiting_payment";
      return;
    }
    // One order: straight on to paying it, as a shop's checkout does.
    try {
      const started = await api("POST", `/api/v1/orders/${orders[0].id}/pay`, {});
      location.href = started.pay_url;
    } catch {
      location.href = `/orders/${orders[0].id}`;
    }
  } catch (err) {
    showOrderError(box, err, form);
    setBusy(button, false);
  }
});

fillShipTo(form);
render();
