// A product's page: pick a variant and a quantity, add to the bag or buy now. The attribution the
// page was opened with (a replay's video time, a live show) goes with the line.
import { api, clearError, loginUrl, money, page, setBusy, showError, t, toast } from "./core.js";

const form = document.getElementById("buy-form");
const variants = new Map((page.variants || []).map((v) => [String(v.id), v]));

function chosen() {
  const picked = form.querySelector('input[name="variant"]:checked');
  return picked ? variants.get(picked.value) : undefined;
}

function refresh() {
  const v = chosen();
  const price = document.getElementById("price");
  const list = document.getElementById("list-price");
  const stock = document.getElementById("stock-line");
  if (!v) {
    stock.textContent = t("product.sold_out");
    return;
  }
  price.textContent = money(v.price, page.currency);
  list.hidden = !v.list_price;
  list.textContent = v.list_price ? money(v.list_price, page.currency) : "";
  stock.textContent = v.stock > 0 ? t("product.in_stock", { n: v.stock }) : t("product.sold_out");
}

async function addToBag() {
  if (!page.user) {
    location.href = loginUrl();
    return false;
  }
  const v = chosen();
  const box = document.getElementById("buy-error");
  clearError(box, form);
  if (!v) return false;
  const quantity = Number(form.elements.quantity.value || 1);
  const a = page.attribution || {};
  const body = { variant_id: v.id, quantity, source: a.source || "direct" };
  if (a.show_id) body.show_id = a.show_id;
  if (a.video_time_ms !== null && a.video_time_ms !== undefined) body.video_time_ms = a.video_time_ms;
  try {
    await api("POST", "/api/v1/cart/items", body);
    return true;
  } catch (err) {
    showError(box, err, form);
    return false;
  }
}

if (form && variants.size) {
  form.addEventListener("change", refresh);
  form.querySelector('[data-action="add"]').addEventListener("click", async (ev) => {
    setBusy(ev.currentTarget, true);
    if (await addToBag()) toast(t("product.added"));
    setBusy(ev.currentTarget, false);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('[type="submit"]');
    setBusy(button, true);
    if (await addToBag()) location.href = "/cart";
    else setBusy(button, false);
  });
  refresh();
}
