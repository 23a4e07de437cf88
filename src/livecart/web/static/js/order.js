// One order: paying (with an address when the order has none), the wait for the provider's
// notification after the hosted payment page, cancel, confirm receipt and refund requests.
// The page is drawn by the server; after an action that changes the order it is simply reloaded.
import { api, clearError, page, setBusy, t } from "./core.js";
import { fillShipTo, orderError, readShipTo, saveShipTo, showOrderError } from "./orders.js";

const $ = (id) => document.getElementById(id);
const order = page.order;
const base = `/api/v1/orders/${order.id}`;
const reload = () => location.replace(`/orders/${order.id}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(err, box = $("order-error"), form = null) {
  if (box.dataset.role === "form-error") showOrderError(box, err, form);
  else {
    box.textContent = orderError(err);
    box.hidden = false;
  }
}

// --- the payment window ------------------------------------------------------------------------

const within = $("pay-within");
if (within) {
  const ends = Date.parse(within.dataset.expires);
  const tick = () => {
    const left = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, "0");
    within.textContent = t("order.pay_within", { time: `${m}:${s}` });
    if (left > 0) setTimeout(tick, 1000 - (Date.now() % 1000));
  };
  tick();
}

// --- paying ------------------------------------------------------------------------------------

const payForm = $("pay-form");
if (payForm) {
  fillShipTo(payForm);
  const box = payForm.querySelector('[data-role="form-error"]');
  payForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("pay");
    clearError(box, payForm);
    const body = {};
    if (payForm.elements.name) {
      const shipTo = readShipTo(payForm);
      const missing = Object.keys(shipTo).filter((k) => !shipTo[k]);
      if (missing.length) {
        for (const name of missing) payForm.elements[name].setAttribute("aria-invalid", "true");
        showOrderError(box, { code: "ship_to_required", data: {} }, payForm);
        payForm.elements[missing[0]].focus();
        return;
      }
      body.ship_to = shipTo;
    }
    setBusy(button, true);
    try {
      const started = await api("POST", `${base}/pay`, body);
      if (body.ship_to) saveShipTo(body.ship_to);
      location.href = started.pay_url;
    } catch (err) {
      showOrderError(box, err, payForm);
      setBusy(button, false);
    }
  });
}

// After the hosted page the order turns paid when the provider's notification arrives.
async function waitForPayment() {
  const banner = $("paying");
  const text = banner.querySelector('[data-f="text"]');
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    await sleep(1000);
    try {
      const now = await api("GET", base);
      if (now.status !== "awaiting_payment") {
        text.textContent = t("order.paid_now");
        reload();
        return;
      }
      if (now.payment_status === "failed") {
        banner.dataset.kind = "error";
        text.textContent = t("order.pay_failed");
        payAgain();
        return;
      }
    } catch {
      /* a dropped request: try again */
    }
  }
  banner.dataset.kind = "slow";
  text.textContent = t("order.paying_slow");
  payAgain();
}

// While the payment is being confirmed, paying or cancelling again is not offered; it is if the
// payment failed or the confirmation is slow.
function payAgain() {
  const form = $("pay-form");
  if (form) form.hidden = false;
}

if (page.paying && order.status === "awaiting_payment") {
  history.replaceState(null, "", `/orders/${order.id}`);
  waitForPayment();
}

// An approved refund ends when the provider confirms the money went back.
async function waitForRefund() {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    await sleep(1500);
    try {
      const now = await api("GET", base);
      if (now.status !== order.status || now.refund?.status !== "approved") {
        reload();
        return;
      }
    } catch {
      /* try again */
    }
  }
}
if (order.refund?.status === "approved" && order.status !== "refunded") waitForRefund();

// --- the other actions -------------------------------------------------------------------------

async function act(button, path, body) {
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  $("order-error").hidden = true;
  setBusy(button, true);
  try {
    await api("POST", `${base}/${path}`, body);
    reload();
  } catch (err) {
    fail(err);
    setBusy(button, false);
  }
}

const refundForm = $("refund-form");
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  const action = button.dataset.act;
  if (action === "cancel") act(button, "cancel");
  else if (action === "confirm") act(button, "confirm-receipt");
  else if (action === "refund-open" && refundForm) {
    refundForm.hidden = false;
    button.hidden = true;
    refundForm.elements.reason.focus();
  } else if (action === "refund-close" && refundForm) {
    refundForm.hidden = true;
    document.querySelector('[data-act="refund-open"]').hidden = false;
  }
});

refundForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = refundForm.querySelector('[data-role="form-error"]');
  const button = refundForm.querySelector('button[type="submit"]');
  clearError(box, refundForm);
  const reason = refundForm.elements.reason.value.trim();
  setBusy(button, true);
  try {
    await api("POST", `${base}/refund-request`, { reason });
    reload();
  } catch (err) {
    showOrderError(box, err, refundForm);
    setBusy(button, false);
  }
});
