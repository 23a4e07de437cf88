// The merchant's catalog: list (with "load more"), create, edit, variants, stock, images, archive.
import { api, clearError, clone, field, money, setBusy, showError, t, toast } from "./core.js";

const list = document.getElementById("product-list");
const empty = document.getElementById("product-empty");
const loading = document.getElementById("product-loading");
const more = document.getElementById("load-more");
const listError = document.getElementById("list-error");
const createForm = document.getElementById("create-product");
let cursor = null;

const text = (value) => (typeof value === "string" ? value.trim() : "");

export function variantBody(form) {
  const v = (name) => text(form.elements[name]?.value);
  const options = {};
  for (const n of ["1", "2"]) {
    if (v(`opt${n}_name`) && v(`opt${n}_value`)) options[v(`opt${n}_name`)] = v(`opt${n}_value`);
  }
  return {
    sku: v("sku"),
    options,
    price: v("price") || null,
    list_price: v("list_price") || null,
    stock: Number.parseInt(v("stock") || "0", 10),
  };
}

function productFields(form) {
  const e = form.elements;
  const body = {
    title: text(e.title.value),
    description: text(e.description.value),
    category: e.category.value,
    open_to_hosts: e.open_to_hosts.checked,
  };
  if (e.currency) body.currency = e.currency.value;
  return body;
}

function renderVariant(v, currency) {
  const li = clone("tpl-variant");
  field(li, "sku").textContent = v.sku;
  field(li, "options").textContent = Object.entries(v.options).map(([k, val]) => `${k}: ${val}`).join(" · ");
  field(li, "price").textContent = money(v.price, currency);
  const lp = field(li, "list_price");
  if (v.list_price && Number(v.list_price) > Number(v.price)) lp.textContent = money(v.list_price, currency);
  else lp.remove();
  field(li, "stock").textContent = t("catalog.stock_n", { n: v.stock });
  li.classList.toggle("is-out", v.stock === 0);
  const form = field(li, "stock-form");
  form.dataset.variantId = v.id;
  return li;
}

function renderProduct(p) {
  const card = clone("tpl-product");
  card.dataset.productId = p.id;
  card.classList.toggle("is-archived", p.archived);
  field(card, "title").textContent = p.title;
  field(card, "category").textContent = t(`category.${p.category}`);
  field(card, "stock_total").textContent = t("catalog.stock_total", { n: p.stock_total });
  field(card, "price").textContent = p.price_from === null ? t("catalog.no_price") : money(p.price_from, p.currency);
  field(card, "open").hidden = !p.open_to_hosts;
  field(card, "archived").hidden = !p.archived;
  const img = field(card, "img");
  if (p.images.length) {
    img.src = p.images[0].url;
    img.hidden = false;
    field(card, "ph").remove();
  } else {
    field(card, "ph").textContent = p.title.slice(0, 1);
  }
  const variants = field(card, "variants");
  for (const v of p.variants.filter((x) => !x.archived)) variants.append(renderVariant(v, p.currency));
  const archive = card.querySelector('[data-act="archive"]');
  archive.textContent = p.archived ? archive.dataset.restore : archive.dataset.archive;
  card._product = p;
  return card;
}

function replace(card, product) {
  const fresh = renderProduct(product);
  card.replaceWith(fresh);
  return fresh;
}

async function refresh(card) {
  return replace(card, await api("GET", `/api/v1/products/${card._product.id}`));
}

function openPanel(card, templateId, fill, onSubmit) {
  const panel = field(card, "panel");
  const form = clone(templateId);
  fill?.(form);
  panel.replaceChildren(form);
  form.querySelector('[data-act="close"]').addEventListener("click", () => panel.replaceChildren());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = form.querySelector('[data-role="form-error"]');
    const button = form.querySelector('button[type="submit"]');
    clearError(box, form);
    setBusy(button, true);
    try {
      await onSubmit(form);
    } catch (err) {
      showError(box, err, form);
      setBusy(button, false);
    }
  });
  form.querySelector("input, textarea")?.focus();
}

async function onCardAction(card, action, target) {
  const p = card._product;
  const box = field(card, "error");
  clearError(box);
  if (action === "edit") {
    openPanel(
      card,
      "tpl-edit",
      (form) => {
        form.elements.title.value = p.title;
        form.elements.description.value = p.description;
        form.elements.category.value = p.category;
        form.elements.open_to_hosts.checked = p.open_to_hosts;
      },
      async (form) => {
        replace(card, await api("PATCH", `/api/v1/products/${p.id}`, productFields(form)));
        toast(t("catalog.saved"));
      },
    );
  } else if (action === "add-variant") {
    openPanel(card, "tpl-variant-form", null, async (form) => {
      await api("POST", `/api/v1/products/${p.id}/variants`, variantBody(form));
      await refresh(card);
      toast(t("catalog.variant_added"));
    });
  } else if (action === "archive") {
    setBusy(target, true);
    try {
      replace(card, await api("PATCH", `/api/v1/products/${p.id}`, { archived: !p.archived }));
    } catch (err) {
      showError(box, err);
      setBusy(target, false);
    }
  }
}

async function onImage(card, input) {
  const file = input.files?.[0];
  if (!file) return;
  const body = new FormData();
  body.append("file", file);
  const label = input.closest("label");
  label.classList.add("is-busy");
  try {
    replace(card, await api("POST", `/api/v1/products/${card._product.id}/images`, body));
    toast(t("catalog.image_added"));
  } catch (err) {
    showError(field(card, "error"), err);
    label.classList.remove("is-busy");
    input.value = "";
  }
}

async function onStock(card, form) {
  const delta = Number.parseInt(form.elements.delta.value, 10);
  if (!Number.isFinite(delta) || delta === 0) {
    form.elements.delta.setAttribute("aria-invalid", "true");
    return;
  }
  const button = form.querySelector("button");
  setBusy(button, true);
  try {
    const reason = delta > 0 ? "restock" : "correction";
    await api("POST", `/api/v1/variants/${form.dataset.variantId}/stock`, { delta, reason });
    await refresh(card);
    toast(t("catalog.stock_changed"));
  } catch (err) {
    showError(field(card, "error"), err);
    setBusy(button, false);
  }
}

list.addEventListener("click", (event) => {
  const target = event.target.closest("button[data-act]");
  const card = event.target.closest(".product-card");
  if (target && card) onCardAction(card, target.dataset.act, target);
});
list.addEventListener("change", (event) => {
  if (event.target.matches('input[data-act="image"]')) onImage(event.target.closest(".product-card"), event.target);
});
list.addEventListener("submit", (event) => {
  if (!event.target.matches(".stock-form")) return;
  event.preventDefault();
  onStock(event.target.closest(".product-card"), event.target);
});

async function load() {
  loading.hidden = false;
  more.hidden = true;
  try {
    const query = new URLSearchParams({ limit: "10" });
    if (cursor) query.set("cursor", cursor);
    const pageOut = await api("GET", `/api/v1/merchants/me/products?${query}`);
    for (const p of pageOut.items) list.append(renderProduct(p));
    cursor = pageOut.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
  } catch (err) {
    showError(listError, err);
    more.hidden = !cursor;
  } finally {
    loading.hidden = true;
  }
}

function toggleCreate(open) {
  createForm.hidden = !open;
  document.querySelectorAll('[data-action="toggle-create"]').forEach((b) => b.setAttribute("aria-expanded", String(open)));
  if (open) createForm.elements.title.focus();
}

document.querySelectorAll('[data-action="toggle-create"]').forEach((b) =>
  b.addEventListener("click", () => toggleCreate(createForm.hidden)),
);

createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = createForm.querySelector('[data-role="form-error"]');
  const button = createForm.querySelector('button[type="submit"]');
  clearError(box, createForm);
  setBusy(button, true);
  try {
    const body = { ...productFields(createForm), variants: [variantBody(createForm)] };
    const product = await api("POST", "/api/v1/products", body);
    list.prepend(renderProduct(product));
    empty.hidden = true;
    createForm.reset();
    toggleCreate(false);
    toast(t("catalog.created"));
  } catch (err) {
    showError(box, err, createForm);
  } finally {
    setBusy(button, false);
  }
});

more.addEventListener("click", load);
load();
