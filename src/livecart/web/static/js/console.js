// The host console: run the show over the room connection. Explain, pin and drop products; go
// live and end; moderate the chat; answer questions; watch the counters.
// User text only ever goes in through textContent.
import { api, clone, field, page, t, toast } from "./core.js";
import { attachPlayer } from "./player.js";
import { connectRoom, dropState, roomErrorText } from "./room.js";

const $ = (id) => document.getElementById(id);
const STAFF = new Set(["host", "moderator"]);
const MAX_LINES = 300;

const state = {
  you: null,
  hostId: page.host?.id,
  showState: page.state,
  explaining: null,
  pinned: null,
  drops: new Map(), // product id → latest drop
  questions: new Map(),
};

// --- tabs --------------------------------------------------------------------------------------

const tabs = [...document.querySelectorAll('.seg [role="tab"]')];
for (const tab of tabs) {
  tab.addEventListener("click", () => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute("aria-selected", String(on));
      $(other.getAttribute("aria-controls")).hidden = !on;
    }
  });
}

// --- helpers -----------------------------------------------------------------------------------

const errorBox = $("console-error");
function fail(text) {
  toast(text);
}

function send(message) {
  if (!client.send(message)) {
    fail(t("room.reconnecting"));
    return false;
  }
  return true;
}

const confirmBox = $("confirm");
function confirmThen(text, okLabel, action) {
  field(confirmBox, "text").textContent = text;
  field(confirmBox, "ok").textContent = okLabel || t("console.confirm");
  confirmBox.returnValue = "";
  confirmBox.addEventListener(
    "close",
    () => {
      if (confirmBox.returnValue === "ok") action();
    },
    { once: true },
  );
  confirmBox.showModal();
}

const clock = (ms) =>
  new Intl.DateTimeFormat(page.lang || "en", { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(
    new Date(ms),
  );

// --- show state and counters -------------------------------------------------------------------

function showState(value) {
  state.showState = value;
  const badge = $("state-badge");
  badge.dataset.state = value;
  badge.className = `badge ${value === "live" ? "badge-live" : value === "scheduled" ? "badge-soon" : "badge-muted"}`;
  badge.replaceChildren();
  if (value === "live") {
    const dot = document.createElement("span");
    dot.className = "dot";
    badge.append(dot);
  }
  badge.append(t(`state.${value}`));
  $("go-live").hidden = value !== "scheduled";
  $("end-show").hidden = value !== "live";
  $("open-room").hidden = value !== "live";
  $("not-live-hint").hidden = value === "live";
  const live = value === "live";
  watchPreview(live);
  const over = value === "ended" || value === "cancelled";
  document.querySelectorAll('.cl-item [data-act="explain"], .cl-item [data-act="drop"]').forEach((b) => {
    b.disabled = !live;
  });
  document.querySelectorAll('.cl-item [data-act="pin"]').forEach((b) => {
    b.disabled = over;
  });
  // Over: nothing to drop or explain any more; say where the show lives on (its replay).
  $("drop-bar").hidden = over;
  $("console-over").hidden = !over;
}

// --- the preview: the host's own stream, as viewers get it, and how far behind it is -------------

let preview = null;
let previewTimer = null;

function previewStatus() {
  const box = $("preview-status");
  const date = preview?.playingDate();
  if (date === null || date === undefined) {
    box.dataset.status = "waiting";
    box.textContent =
      page.media_status === "on"
        ? t("console.preview_waiting", { server: page.rtmp_server })
        : t("console.preview_waiting_off", { reason: page.media_status });
    return;
  }
  box.dataset.status = "on";
  const seconds = Math.max(0, (client.serverNow() - date) / 1000);
  box.textContent = t("console.preview_on", { s: seconds.toFixed(1) });
}

function watchPreview(live) {
  $("preview-box").hidden = !live;
  if (live && !preview) {
    const video = $("preview");
    preview = attachPlayer(video, page.video_url, {
      live: true,
      onStatus: (status) => {
        video.dataset.status = status;
        if (status === "ready") video.hidden = false;
      },
    });
    previewTimer = setInterval(previewStatus, 1000);
    previewStatus();
  } else if (!live && preview) {
    clearInterval(previewTimer);
    preview.destroy();
    preview = null;
    $("preview").hidden = true;
  }
}

function counters({ online, peak, likes }) {
  $("stat-online").textContent = String(online);
  $("stat-peak").textContent = String(peak);
  $("stat-likes").textContent = String(likes);
}

$("go-live").addEventListener("click", () =>
  confirmThen(t("console.confirm_go_live"), t("console.go_live"), () => send({ type: "go_live" })),
);
$("end-show").addEventListener("click", () =>
  confirmThen(t("console.confirm_end"), t("console.end"), () => send({ type: "end" })),
);

// --- the lineup: explain, pin, drop ------------------------------------------------------------

const rows = () => document.querySelectorAll(".cl-item");
let dropTimer = null;

function renderLineup() {
  for (const row of rows()) {
    const id = Number(row.dataset.productId);
    const explaining = state.explaining?.product.id === id;
    const pinned = state.pinned?.id === id;
    field(row, "explaining").hidden = !explaining;
    field(row, "pinned").hidden = !pinned;
    row.classList.toggle("is-explaining", explaining);
    const explain = row.querySelector('[data-act="explain"]');
    explain.textContent = explaining ? explain.dataset.on : explain.dataset.off;
    explain.classList.toggle("btn-dark", explaining);
    const pin = row.querySelector('[data-act="pin"]');
    pin.textContent = pinned ? pin.dataset.on : pin.dataset.off;
    pin.classList.toggle("btn-dark", pinned);
  }
  tickDrops();
}

function tickDrops() {
  clearTimeout(dropTimer);
  let soon = false;
  const now = client.serverNow();
  for (const row of rows()) {
    const drop = state.drops.get(Number(row.dataset.productId));
    const badge = field(row, "drop");
    if (!drop || now - drop.opens_at > 60000) {
      badge.hidden = true;
      continue;
    }
    const ds = dropState(drop, now);
    badge.hidden = false;
    badge.textContent = ds.open ? t("console.drop_open") : t("room.opens_in", { s: ds.seconds });
    soon = true;
  }
  if (soon) dropTimer = setTimeout(tickDrops, 250);
}

for (const row of rows()) {
  const productId = Number(row.dataset.productId);
  row.querySelector('[data-act="explain"]').addEventListener("click", () => {
    const on = state.explaining?.product.id === productId;
    send({ type: "explain", product_id: on ? null : productId });
  });
  row.querySelector('[data-act="pin"]').addEventListener("click", () => {
    const on = state.pinned?.id === productId;
    send({ type: "pin", product_id: on ? null : productId });
  });
  row.querySelector('[data-act="drop"]').addEventListener("click", () => {
    send({ type: "drop", product_id: productId, countdown_ms: Number($("countdown").value) });
  });
}

// --- chat and moderation -----------------------------------------------------------------------

const chatList = $("console-chat");

function isStaffLine(m) {
  return m.user.id === state.hostId || (state.you && m.user.id === state.you.id);
}

function chatRow(m) {
  const li = clone("tpl-chat");
  li.dataset.id = m.id;
  li.dataset.userId = m.user.id;
  field(li, "initial").textContent = m.user.name.slice(0, 1);
  field(li, "name").textContent = m.user.name;
  field(li, "text").textContent = m.text;
  field(li, "q").hidden = !m.question;
  const time = field(li, "time");
  time.dateTime = new Date(m.at_ms).toISOString();
  time.textContent = clock(m.at_ms);
  if (isStaffLine(m)) {
    li.classList.add("is-staff");
    li.querySelectorAll("[data-user-act]").forEach((b) => b.remove());
  }
  const name = m.user.name;
  li.querySelector('[data-act="delete"]').addEventListener("click", () => {
    if (send({ type: "delete_chat", message_id: m.id })) li.classList.add("is-going");
  });
  li.querySelector('[data-act="mute"]')?.addEventListener("click", () => {
    if (send({ type: "restrict", user_id: m.user.id, kind: "mute", minutes: 10 })) {
      toast(t("console.muted", { name }));
    }
  });
  li.querySelector('[data-act="ban"]')?.addEventListener("click", () =>
    confirmThen(t("console.confirm_ban", { name }), t("console.ban"), () => {
      if (send({ type: "restrict", user_id: m.user.id, kind: "ban" })) toast(t("console.banned", { name }));
    }),
  );
  li.querySelector('[data-act="shadow"]')?.addEventListener("click", () => {
    if (send({ type: "restrict", user_id: m.user.id, kind: "shadow" })) {
      toast(t("console.shadowed", { name }));
    }
  });
  return li;
}

function addChat(m) {
  if (chatList.querySelector(`[data-id="${m.id}"]`)) return;
  const stick = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  chatList.append(chatRow(m));
  while (chatList.children.length > MAX_LINES) chatList.firstElementChild.remove();
  if (m.question) upsertQuestion(m);
  chatCount();
  if (stick && !$("panel-chat").hidden) chatList.lastElementChild.scrollIntoView({ block: "nearest" });
}

function chatCount() {
  const n = chatList.children.length;
  $("chat-count").textContent = String(n);
  $("chat-empty").hidden = n > 0;
}

function removeChat(ids) {
  for (const id of ids) {
    chatList.querySelector(`[data-id="${id}"]`)?.remove();
    state.questions.delete(id);
  }
  chatCount();
  renderQuestions();
}

$("slow-mode").addEventListener("change", (e) => send({ type: "slow_mode", seconds: Number(e.target.value) }));

$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.elements.text;
  const text = input.value.trim();
  if (text && send({ type: "chat", text })) input.value = "";
});

// --- questions ---------------------------------------------------------------------------------

const qaList = $("console-qa");

function upsertQuestion(m) {
  state.questions.set(m.id, m);
  renderQuestions();
}

function questionRow(m) {
  const li = clone("tpl-question");
  li.dataset.id = m.id;
  li.dataset.state = m.state || "open";
  field(li, "name").textContent = m.user.name;
  field(li, "text").textContent = m.text;
  field(li, "pinned").hidden = !m.pinned;
  const st = field(li, "state");
  st.className = `q-state is-${m.state || "open"}`;
  st.textContent =
    m.state === "answered"
      ? t("room.q_answered")
      : m.state === "claimed"
        ? t("room.q_claimed", { name: m.claimed_by?.name || "" })
        : t("room.q_open");
  const answer = field(li, "answer");
  if (m.answer) {
    answer.hidden = false;
    answer.textContent = m.answer;
  }
  const mine = m.claimed_by && state.you && m.claimed_by.id === state.you.id;
  const open = m.state !== "answered" && m.state !== "claimed";
  const form = field(li, "form");
  form.hidden = !(open || (m.state === "claimed" && mine));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = form.elements.answer.value.trim();
    if (text) send({ type: "question", message_id: m.id, action: "answer", answer: text });
  });
  const claim = li.querySelector('[data-act="claim"]');
  claim.hidden = !open;
  claim.addEventListener("click", () => send({ type: "question", message_id: m.id, action: "claim" }));
  const release = li.querySelector('[data-act="release"]');
  release.hidden = !(m.state === "claimed" && mine);
  release.addEventListener("click", () => send({ type: "question", message_id: m.id, action: "release" }));
  const pin = li.querySelector('[data-act="pin"]');
  pin.textContent = m.pinned ? pin.dataset.on : pin.dataset.off;
  pin.addEventListener("click", () =>
    send({ type: "question", message_id: m.id, action: m.pinned ? "unpin" : "pin" }),
  );
  return li;
}

function renderQuestions() {
  // Keep a half-typed answer when the list is redrawn.
  const drafts = new Map(
    [...qaList.querySelectorAll(".cq-item")].map((li) => [Number(li.dataset.id), li.querySelector("input")?.value || ""]),
  );
  const order = { open: 0, claimed: 1, answered: 2 };
  const items = [...state.questions.values()].sort(
    (a, b) => order[a.state || "open"] - order[b.state || "open"] || b.id - a.id,
  );
  qaList.replaceChildren(
    ...items.map((m) => {
      const li = questionRow(m);
      const draft = drafts.get(m.id);
      if (draft && m.state !== "answered") li.querySelector("input").value = draft;
      return li;
    }),
  );
  $("qa-empty").hidden = items.length > 0;
  const open = items.filter((m) => m.state !== "answered").length;
  $("qa-open-count").textContent = String(open);
}

async function loadQuestions() {
  try {
    const out = await api("GET", `/api/v1/shows/${page.show_id}/questions?limit=100`);
    for (const m of out.items) if (!state.questions.has(m.id)) state.questions.set(m.id, m);
    renderQuestions();
  } catch {
    /* the snapshot's questions are enough */
  }
}

// --- the connection ----------------------------------------------------------------------------

function applySnapshot(s) {
  state.you = s.you;
  state.hostId = s.show.host_id;
  if (!STAFF.has(s.you.role)) {
    errorBox.textContent = t("console.no_staff");
    errorBox.hidden = false;
    document.querySelectorAll(".panel, .console-controls").forEach((el) => el.setAttribute("inert", ""));
  }
  showState(s.show.state);
  counters(s);
  state.explaining = s.explaining;
  state.pinned = s.pinned;
  state.drops.clear();
  for (const d of [...s.drops].sort((a, b) => a.t_event - b.t_event)) state.drops.set(d.product.id, d);
  $("slow-mode").value = String(s.slow_mode);
  if ($("slow-mode").value !== String(s.slow_mode)) {
    const opt = new Option(t("console.seconds", { s: s.slow_mode }), String(s.slow_mode), true, true);
    $("slow-mode").append(opt);
  }
  chatList.replaceChildren();
  state.questions.clear();
  for (const m of s.chat) addChat(m);
  renderQuestions();
  loadQuestions();
  renderLineup();
}

function applyEvent(e) {
  switch (e.type) {
    case "chat_posted":
      addChat(e.message);
      break;
    case "chat_deleted":
      removeChat(e.message_ids);
      break;
    case "question_updated":
      upsertQuestion(e.message);
      break;
    case "explain_started":
      state.explaining = { explanation_id: e.explanation_id, product: e.product, t_event: e.t_event };
      renderLineup();
      break;
    case "explain_stopped":
      if (state.explaining?.explanation_id === e.explanation_id) state.explaining = null;
      renderLineup();
      break;
    case "product_pinned":
      state.pinned = e.product;
      renderLineup();
      break;
    case "drop_opened":
      state.drops.set(e.product.id, e);
      toast(t("console.dropped", { title: e.product.title }));
      renderLineup();
      break;
    case "show_state":
      showState(e.state);
      break;
    case "slow_mode":
      $("slow-mode").value = String(e.seconds);
      break;
    default:
      break;
  }
}

function applyMessage(m) {
  if (m.type === "tick") counters(m);
  else if (m.type === "error") fail(roomErrorText(m));
  else if (m.type === "chat_posted") addChat(m.message);
}

const conn = $("conn");
function onStatus(status) {
  conn.dataset.status = status;
  conn.textContent =
    status === "open" ? t("console.connected") : status === "gone" ? t("room.gone") : t("room.reconnecting");
  if (status === "connecting") conn.textContent = t("room.connecting");
}

const client = connectRoom(page, {
  onSnapshot: applySnapshot,
  onEvent: applyEvent,
  onMessage: applyMessage,
  onStatus,
});
window.lcRoom = client;
