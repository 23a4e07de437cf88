// The replay page: the show's video (VOD HLS), its markers (看点) on a progress bar — hover shows
// the product, a click seeks there — the products explained, and, for the host, marker editing.
// User text (titles, labels) only ever goes in through textContent.
import { api, errorText, money, page, t, toast } from "./core.js";
import { attachPlayer } from "./player.js";

const $ = (id) => document.getElementById(id);
const video = $("replay-video");
const bar = $("replay-bar");
const tip = $("replay-tip");
const state = { replay: null, player: null };

/** 75_500 → "1:15" */
export function clock(ms) {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Where the buy button goes: the product, with where in which replay it was bought from. */
export function buyUrl(productId, showId, videoMs) {
  const q = new URLSearchParams({ source: "replay", show_id: String(showId), video_time_ms: String(Math.round(videoMs)) });
  return `/products/${productId}?${q}`;
}

function seek(ms) {
  video.currentTime = ms / 1000;
  video.play().catch(() => {});
}

const durationMs = () => state.replay?.duration_ms || (video.duration || 0) * 1000;

function markerLabel(m) {
  if (m.product) return m.product.title;
  if (m.label === "drop") return t("replay.drop");
  if (m.label === "chat") return t("replay.chat");
  return m.label || t("replay.kind_highlight");
}

function showTip(m, x) {
  tip.replaceChildren();
  if (m.product?.image_url) {
    const img = document.createElement("img");
    img.src = m.product.image_url;
    img.alt = "";
    tip.append(img);
  }
  const text = document.createElement("span");
  text.textContent = `${clock(m.start_ms)} · ${markerLabel(m)}`;
  tip.append(text);
  if (m.product) {
    const price = document.createElement("strong");
    price.textContent = ` ${money(m.product.price, m.product.currency)}`;
    tip.append(price);
  }
  tip.hidden = false;
  // Centred on the marker, but never past either end of the bar (a phone is narrow).
  const room = tip.offsetParent?.clientWidth ?? window.innerWidth;
  const half = tip.offsetWidth / 2;
  tip.style.left = `${Math.min(Math.max(x, half), Math.max(half, room - half))}px`;
}

function renderBar() {
  bar.querySelectorAll(".replay-marker").forEach((el) => el.remove());
  const length = durationMs();
  if (!length) return;
  for (const m of state.replay.markers) {
    const dot = document.createElement("button");
    dot.type = "button";
    dot.className = "replay-marker";
    dot.dataset.kind = m.kind;
    dot.dataset.startMs = String(m.start_ms);
    dot.style.left = `${Math.min(100, (m.start_ms / length) * 100)}%`;
    dot.setAttribute("aria-label", `${clock(m.start_ms)} ${markerLabel(m)}`);
    dot.addEventListener("mouseenter", () => showTip(m, dot.offsetLeft));
    dot.addEventListener("focus", () => showTip(m, dot.offsetLeft));
    dot.addEventListener("mouseleave", () => (tip.hidden = true));
    dot.addEventListener("blur", () => (tip.hidden = true));
    dot.addEventListener("click", (e) => {
      e.stopPropagation();
      seek(m.start_ms);
    });
    bar.append(dot);
  }
}

bar.addEventListener("click", (e) => {
  const rect = bar.getBoundingClientRect();
  seek(((e.clientX - rect.left) / rect.width) * durationMs());
});
video.addEventListener("timeupdate", () => {
  const length = durationMs();
  $("replay-progress").style.width = length ? `${Math.min(100, (video.currentTime * 1000 / length) * 100)}%` : "0";
});

function itemFor(m, { buy }) {
  const li = document.createElement("li");
  li.className = "replay-item";
  li.dataset.markerId = String(m.id);
  if (m.product?.image_url) {
    const img = document.createElement("img");
    img.src = m.product.image_url;
    img.alt = "";
    li.append(img);
  }
  const body = document.createElement("div");
  body.className = "grow";
  const title = document.createElement("strong");
  title.textContent = markerLabel(m);
  const time = document.createElement("div");
  time.className = "time";
  time.textContent = m.end_ms ? `${clock(m.start_ms)} – ${clock(m.end_ms)}` : clock(m.start_ms);
  body.append(title, time);
  if (m.product) {
    const price = document.createElement("div");
    price.className = "price";
    price.textContent = money(m.product.price, m.product.currency);
    body.append(price);
  }
  const jump = document.createElement("button");
  jump.type = "button";
  jump.className = "btn btn-ghost btn-sm";
  jump.dataset.act = "jump";
  jump.textContent = t("replay.jump");
  jump.addEventListener("click", () => seek(m.start_ms));
  li.append(body, jump);
  if (buy && m.product) {
    const link = document.createElement("a");
    link.className = "btn btn-primary btn-sm";
    link.dataset.act = "buy";
    link.textContent = t("replay.buy");
    // The video time is read when pressed: attributed to the moment the viewer bought at.
    link.href = buyUrl(m.product.id, page.show_id, m.start_ms);
    link.addEventListener("click", () => {
      link.href = buyUrl(m.product.id, page.show_id, video.currentTime * 1000);
    });
    li.append(link);
  }
  return li;
}

function renderLists() {
  const products = state.replay.markers.filter((m) => m.kind === "product");
  $("replay-products").replaceChildren(...products.map((m) => itemFor(m, { buy: true })));
  const highlights = state.replay.markers.filter((m) => m.kind === "highlight");
  $("replay-highlights").replaceChildren(...highlights.map((m) => itemFor(m, { buy: false })));
  $("replay-products-empty").hidden = products.length > 0;
  $("replay-highlights-empty").hidden = highlights.length > 0;
  if (page.is_host) renderEditor();
}

// --- the host edits markers ------------------------------------------------------------------

function renderEditor() {
  $("replay-edit").hidden = false;
  $("edit-list").replaceChildren(
    ...state.replay.markers.map((m) => {
      const li = document.createElement("li");
      li.className = "replay-item";
      li.dataset.markerId = String(m.id);
      const label = document.createElement("input");
      label.name = "label";
      label.maxLength = 80;
      label.value = m.label;
      label.setAttribute("aria-label", t("replay.label"));
      const start = document.createElement("input");
      start.name = "start";
      start.type = "number";
      start.min = "0";
      start.step = "0.1";
      start.value = (m.start_ms / 1000).toFixed(1);
      const save = document.createElement("button");
      save.type = "button";
      save.className = "btn btn-primary btn-sm";
      save.dataset.act = "save";
      save.textContent = t("replay.save");
      save.addEventListener("click", () =>
        edit("PATCH", `/${m.id}`, { label: label.value, start_ms: Math.round(Number(start.value) * 1000) }),
      );
      const del = document.createElement("button");
      del.type = "button";
      del.className = "btn btn-ghost btn-sm";
      del.dataset.act = "delete";
      del.textContent = t("replay.delete");
      del.addEventListener("click", () => edit("DELETE", `/${m.id}`));
      const kind = document.createElement("span");
      kind.className = "muted small";
      kind.textContent = m.kind === "product" ? t("replay.kind_product") : t("replay.kind_highlight");
      li.append(kind, label, start, save, del);
      return li;
    }),
  );
}

async function edit(method, suffix, body) {
  try {
    await api(method, `/api/v1/shows/${page.show_id}/replay/markers${suffix}`, body);
    await load();
  } catch (err) {
    toast(errorText(err));
  }
}

$("add-marker").addEventListener("click", () =>
  edit("POST", "", { kind: "highlight", start_ms: Math.round(video.currentTime * 1000), label: "" }),
);

// --- loading ---------------------------------------------------------------------------------

async function load() {
  const status = $("replay-status");
  let replay;
  try {
    replay = await api("GET", `/api/v1/shows/${page.show_id}/replay`);
  } catch (err) {
    status.hidden = false;
    status.textContent = err.status === 404 ? t("replay.none") : errorText(err);
    return;
  }
  if (replay.status !== "ready") {
    status.hidden = false;
    status.textContent = replay.status === "failed" ? t("replay.none") : t("replay.not_ready");
    if (replay.status !== "failed") setTimeout(load, 2000);
    return;
  }
  status.hidden = true;
  state.replay = replay;
  if (!state.player) state.player = attachPlayer(video, replay.playlist_url, { live: false });
  renderBar();
  renderLists();
  bar.dataset.ready = "1";
}

video.addEventListener("loadedmetadata", () => state.replay && renderBar());
window.lcReplay = { state, video };
load();
