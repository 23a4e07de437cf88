// The show preview: a ticking countdown, "remind me" and "follow".
import { api, errorText, page, setBusy, showError, t } from "./core.js";

const errorBox = document.getElementById("action-error");

// The server's clock at render time corrects a device clock that is off.
const skew = page.server_now ? Date.parse(page.server_now) - Date.now() : 0;
const start = Date.parse(page.planned_start);

function countdownText(ms) {
  if (ms <= 0) return t("show.starting");
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const hms = `${pad(Math.floor((total % 86400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days > 0 ? t("show.days_hms", { d: days, hms }) : hms;
}

const countdown = document.getElementById("countdown");
if (countdown && page.state === "scheduled") {
  const tick = () => {
    const left = start - (Date.now() + skew);
    countdown.textContent = countdownText(left);
    countdown.dataset.ms = String(Math.max(0, left));
    if (left > 0) setTimeout(tick, 1000 - ((Date.now() + skew) % 1000) + 5);
  };
  tick();
}

function toggler(button, { on, off, path, countEl, countKey }) {
  if (!button) return;
  button.addEventListener("click", async () => {
    if (!page.user) {
      location.href = page.login_url;
      return;
    }
    const pressed = button.getAttribute("aria-pressed") === "true";
    errorBox.hidden = true;
    setBusy(button, true);
    try {
      const out = await api(pressed ? "DELETE" : "PUT", path);
      const now = !pressed;
      button.setAttribute("aria-pressed", String(now));
      button.textContent = now ? on : off;
      button.classList.toggle("btn-primary", !now);
      button.classList.toggle("btn-ghost", now);
      if (countEl) countEl.textContent = String(out[countKey]);
    } catch (err) {
      if (err.status === 401) {
        location.href = page.login_url;
        return;
      }
      showError(errorBox, err);
      errorBox.textContent = errorText(err);
    } finally {
      setBusy(button, false);
    }
  });
}

toggler(document.getElementById("remind"), {
  on: t("show.reminded"),
  off: t("show.remind"),
  path: `/api/v1/shows/${page.show_id}/reminder`,
  countEl: document.getElementById("reminders"),
  countKey: "reminders_count",
});
toggler(document.getElementById("follow"), {
  on: t("show.following"),
  off: t("show.follow"),
  path: `/api/v1/hosts/${page.host_id}/follow`,
  countEl: document.getElementById("followers"),
  countKey: "followers_count",
});
