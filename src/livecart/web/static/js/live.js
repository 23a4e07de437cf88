// The viewer's live room: chat, questions, likes, the product bag and the link drop.
// User text (names, chat, answers, product titles) only ever goes in through textContent.
import { api, errorText, field, money, page, t, toast } from "./core.js";
import { attachPlayer, VideoClock } from "./player.js";
import { connectRoom, dropState, roomErrorText } from "./room.js";

const $ = (id) => document.getElementById(id);
const MAX_CHAT_LINES = 150;
const ROLE_BADGE = { host: "room.host_badge", moderator: "room.mod_badge" };

const state = {
  you: null,
  hostId: page.host?.id,
  lineup: [],
  pinned: null,
  explaining: null,
  drop: null,
  questions: new Map(),
  likes: 0,
  likesShown: 0,
  following: Boolean(page.following),
  slowMode: 0,
  ended: false,
  ending: false, // the show ended; waiting for the picture to get there
};

// --- the video: the room's events wait for the viewer's own picture -----------------------------

const videoEl = $("player");
const player = videoEl && page.video_url
  ? attachPlayer(videoEl, page.video_url, {
      live: true,
      onStatus: (status) => {
        videoEl.dataset.status = status;
        if (status === "ready") videoEl.hidden = false;
        $("unmute").hidden = !videoEl.muted || status !== "ready";
      },
    })
  : null;
const videoClock = new VideoClock(player);
/** How far (ms) the picture on screen is behind the server's now, or null without video. */
const delayMs = () => {
  const date = player?.playingDate();
  return date === null || date === undefined ? null : client.serverNow() - date;
};
window.lcPlayer = { player, delayMs, video: videoEl };

$("unmute")?.addEventListener("click", () => {
  videoEl.muted = false;
  videoEl.play().catch(() => {});
  $("unmute").hidden = true;
});

if (new URLSearchParams(location.search).get("debug") === "1" && player) {
  const box = $("video-debug");
  box.hidden = false;
  setInterval(() => {
    const delay = delayMs();
    const hls = player.hls;
    const ahead = videoEl.buffered.length ? videoEl.buffered.end(videoEl.buffered.length - 1) - videoEl.currentTime : 0;
    box.textContent = [
      `delay ${delay === null ? "—" : `${(delay / 1000).toFixed(2)} s`}`,
      `hls latency ${hls?.latency ? hls.latency.toFixed(2) : "—"} s`,
      `buffer ${ahead.toFixed(2)} s`,
      `rate ${videoEl.playbackRate.toFixed(2)}`,
      `queued events ${videoClock.queue.length}`,
    ].join("\n");
  }, 250);
}

// --- small helpers -----------------------------------------------------------------------------

let msgTimer = null;
function say(text, { sticky = false, kind = "error" } = {}) {
  const box = $("room-msg");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(msgTimer);
  if (!sticky) msgTimer = setTimeout(() => (box.hidden = true), 5000);
}

function setImage(root, url, initial) {
  const img = field(root, "img");
  const ph = field(root, "ph");
  if (url) {
    img.src = url;
    img.hidden = false;
    ph.hidden = true;
  } else {
    img.hidden = true;
    img.removeAttribute("src");
    ph.hidden = false;
    ph.textContent = (initial || "").slice(0, 1);
  }
}

const compactFormat = new Intl.NumberFormat(page.lang || "en", { notation: "compact", maximumFractionDigits: 1 });
const compact = (n) => compactFormat.format(n);

// --- chat --------------------------------------------------------------------------------------

const chat = $("chat");
const newMsgs = $("new-msgs");
const nearBottom = () => chat.scrollHeight - chat.scrollTop - chat.clientHeight < 48;

function chatLine(m) {
  const li = document.createElement("li");
  li.className = "chat-line";
  li.dataset.id = m.id;
  if (m.question) {
    li.classList.add("is-question");
    const q = document.createElement("span");
    q.className = "chat-q";
    q.textContent = t("room.question");
    li.append(q);
  }
  const role = m.user.id === state.hostId ? "host" : null;
  if (role) {
    const badge = document.createElement("span");
    badge.className = "chat-badge";
    badge.textContent = t(ROLE_BADGE[role]);
    li.append(badge);
  }
  const name = document.createElement("span");
  name.className = "chat-name";
  name.textContent = `${m.user.name}${state.you && m.user.id === state.you.id ? ` (${t("room.you")})` : ""}：`;
  const text = document.createElement("span");
  text.className = "chat-text";
  text.textContent = m.text;
  li.append(name, text);
  if (state.you && m.user.id === state.you.id) li.classList.add("is-mine");
  return li;
}

function addChat(m, { scroll = true } = {}) {
  if (chat.querySelector(`[data-id="${m.id}"]`)) return;
  const stick = nearBottom();
  chat.append(chatLine(m));
  while (chat.children.length > MAX_CHAT_LINES) chat.firstElementChild.remove();
  if (m.question) upsertQuestion(m);
  if (!scroll) return;
  const mine = state.you && m.user.id === state.you.id;
  if (stick || mine) {
    chat.scrollTop = chat.scrollHeight;
  } else {
    newMsgs.hidden = false;
  }
}

chat.addEventListener("scroll", () => {
  if (nearBottom()) newMsgs.hidden = true;
});
newMsgs.addEventListener("click", () => {
  chat.scrollTop = chat.scrollHeight;
  newMsgs.hidden = true;
});

function resetChat(lines) {
  chat.querySelectorAll(".chat-line:not(.chat-system)").forEach((el) => el.remove());
  for (const m of lines) addChat(m, { scroll: false });
  chat.scrollTop = chat.scrollHeight;
}

function removeChat(ids) {
  for (const id of ids) {
    chat.querySelector(`[data-id="${id}"]`)?.remove();
    state.questions.delete(id);
  }
  renderQuestions();
}

// --- questions (Q&A) ---------------------------------------------------------------------------

function upsertQuestion(m) {
  state.questions.set(m.id, m);
  renderQuestions();
}

function questionState(m) {
  if (m.state === "answered") return { cls: "is-answered", text: t("room.q_answered") };
  if (m.state === "claimed") {
    return { cls: "is-claimed", text: t("room.q_claimed", { name: m.claimed_by?.name || "" }) };
  }
  return { cls: "is-open", text: t("room.q_open") };
}

function renderQuestions() {
  const list = $("qa-list");
  const items = [...state.questions.values()].sort(
    (a, b) => Number(b.pinned) - Number(a.pinned) || b.id - a.id,
  );
  list.replaceChildren(
    ...items.map((m) => {
      const li = document.createElement("li");
      li.className = "qa-item";
      li.dataset.id = m.id;
      const head = document.createElement("div");
      head.className = "qa-head";
      const who = document.createElement("strong");
      who.textContent = m.user.name;
      const st = questionState(m);
      const chip = document.createElement("span");
      chip.className = `q-state ${st.cls}`;
      chip.textContent = st.text;
      head.append(who, chip);
      if (m.pinned) {
        const pin = document.createElement("span");
        pin.className = "badge badge-dark";
        pin.textContent = t("room.pinned");
        head.append(pin);
      }
      const text = document.createElement("p");
      text.className = "qa-text";
      text.textContent = m.text;
      li.append(head, text);
      if (m.answer) {
        const answer = document.createElement("p");
        answer.className = "qa-answer";
        const label = document.createElement("strong");
        label.textContent = `${t("room.answer_by")}：`;
        const body = document.createElement("span");
        body.textContent = m.answer;
        answer.append(label, body);
        li.append(answer);
      }
      return li;
    }),
  );
  $("qa-empty").hidden = items.length > 0;
  $("qa-total").textContent = String(items.length);
  const open = items.filter((m) => m.state !== "answered").length;
  const badge = $("qa-count");
  badge.textContent = String(open);
  badge.hidden = open === 0;
  const pinned = items.find((m) => m.pinned);
  const box = $("pinned-q");
  box.hidden = !pinned;
  if (pinned) {
    field(box, "text").textContent = pinned.answer
      ? `${pinned.text} — ${pinned.answer}`
      : pinned.text;
  }
}

async function loadQuestions() {
  try {
    const out = await api("GET", `/api/v1/shows/${page.show_id}/questions?limit=50`);
    for (const m of out.items) if (!state.questions.has(m.id)) state.questions.set(m.id, m);
    renderQuestions();
  } catch {
    /* the snapshot's questions are enough */
  }
}

// --- the product card: a drop, else the product being explained, else the pinned one ------------

const card = $("product-card");
const buy = $("buy");
const bigCountdown = $("big-countdown");
let dropTimer = null;

function cardProduct() {
  if (state.drop) return { product: state.drop.product, mode: "drop" };
  if (state.explaining) return { product: state.explaining.product, mode: "explaining" };
  if (state.pinned) return { product: state.pinned, mode: "pinned" };
  return null;
}

function renderCard() {
  const current = cardProduct();
  card.hidden = !current;
  if (!current) return;
  const { product, mode } = current;
  card.dataset.mode = mode;
  card.dataset.productId = product.id;
  card.dataset.opensAt = mode === "drop" ? String(state.drop.opens_at) : "";
  setImage(card, product.image_url, product.title);
  field(card, "title").textContent = product.title;
  field(card, "price").textContent = money(product.price, product.currency);
  const list = field(card, "list");
  const showList = product.list_price && Number(product.list_price) > Number(product.price);
  list.textContent = showList ? money(product.list_price, product.currency) : "";
  const explaining = state.explaining && state.explaining.product.id === product.id;
  const tag = field(card, "tag");
  tag.textContent = mode === "drop" ? t("room.drop_tag") : explaining ? t("room.explaining") : t("room.pinned");
  tag.className = `pcard-tag tag-${mode === "drop" ? "drop" : explaining ? "explaining" : "pinned"}`;
  updateBuy();
}

function updateBuy() {
  const current = cardProduct();
  if (!current) return;
  if (current.mode !== "drop") {
    buy.disabled = false;
    buy.textContent = t("room.view");
    buy.classList.remove("is-waiting", "is-open");
    return;
  }
  const ds = dropState(state.drop, client.serverNow());
  buy.disabled = !ds.open;
  buy.classList.toggle("is-waiting", !ds.open);
  buy.classList.toggle("is-open", ds.open);
  buy.textContent = ds.open ? t("room.buy_now") : t("room.opens_in", { s: ds.seconds });
  buy.dataset.msLeft = String(Math.round(ds.msLeft));
  // The big "3, 2, 1, 上链接!" over the video, for the first moments of a drop only.
  const sinceOpen = client.serverNow() - state.drop.opens_at;
  if (!ds.open) {
    bigCountdown.hidden = false;
    bigCountdown.textContent = String(ds.seconds);
    bigCountdown.dataset.n = String(ds.seconds);
  } else if (sinceOpen < 1200) {
    bigCountdown.hidden = false;
    bigCountdown.textContent = t("room.go");
    bigCountdown.dataset.n = "go";
  } else {
    bigCountdown.hidden = true;
  }
}

function runDrop() {
  clearTimeout(dropTimer);
  if (!state.drop) return;
  updateBuy();
  const now = client.serverNow();
  const left = state.drop.opens_at - now;
  if (left > 0) {
    // Wake exactly at the next whole second before the opening, and at the opening itself.
    const toNextSecond = left % 1000 || 1000;
    dropTimer = setTimeout(runDrop, Math.max(5, Math.min(toNextSecond, left)));
  } else if (now - state.drop.opens_at < 1500) {
    dropTimer = setTimeout(runDrop, 300);
  }
}

function setDrop(drop) {
  state.drop = drop;
  renderCard();
  runDrop();
}

function setExplaining(explaining) {
  state.explaining = explaining;
  const label = $("explain-label");
  label.hidden = !explaining;
  if (explaining) field(label, "title").textContent = explaining.product.title;
  renderCard();
  renderBag();
}

buy.addEventListener("click", () => {
  const current = cardProduct();
  // A link drop without a flash sale keeps its placeholder (tests/browser/test_room.py pins it).
  if (current) openProduct(current.product.id, current.product, "cart");
});

// --- the product bag and the product sheet -----------------------------------------------------

function openSheet(id) {
  const dialog = $(id);
  if (!dialog.open) dialog.showModal();
}

document.querySelectorAll("dialog.sheet").forEach((dialog) => {
  dialog.querySelector("[data-close]")?.addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog) dialog.close(); // a tap on the backdrop
  });
});

async function loadLineup() {
  try {
    const show = await api("GET", `/api/v1/shows/${page.show_id}`);
    state.lineup = show.lineup.map((item) => item.product);
  } catch (err) {
    if (!state.lineup.length) say(errorText(err));
  }
  renderBag();
}

function renderBag() {
  const list = $("bag-list");
  list.replaceChildren(
    ...state.lineup.map((p, i) => {
      const li = document.getElementById("tpl-bag-item").content.firstElementChild.cloneNode(true);
      li.dataset.productId = p.id;
      field(li, "pos").textContent = String(i + 1);
      setImage(li, p.images[0]?.url, p.title);
      field(li, "title").textContent = p.title;
      field(li, "price").textContent = money(p.price_from, p.currency);
      const cheapest = p.variants.filter((v) => !v.archived).sort((a, b) => a.price - b.price)[0];
      const list = field(li, "list");
      list.textContent =
        cheapest?.list_price && Number(cheapest.list_price) > Number(cheapest.price)
          ? money(cheapest.list_price, p.currency)
          : "";
      field(li, "stock").textContent =
        p.stock_total > 0 ? t("room.stock_n", { n: p.stock_total }) : t("room.sold_out");
      const explaining = state.explaining?.product.id === p.id;
      field(li, "tag").hidden = !explaining;
      li.classList.toggle("is-explaining", explaining);
      field(li, "view").addEventListener("click", () => openProduct(p.id));
      return li;
    }),
  );
  $("bag-empty").hidden = state.lineup.length > 0;
  $("bag-count").textContent = String(state.lineup.length);
  $("bag-total").textContent = String(state.lineup.length);
}

$("open-bag").addEventListener("click", () => {
  openSheet("bag-sheet");
  loadLineup();
});

function openProduct(productId, card, mode = "cart") {
  const sheet = $("buy-sheet");
  const product = state.lineup.find((p) => p.id === productId);
  const title = product?.title || card?.title || "";
  setImage(sheet, product?.images[0]?.url || card?.image_url, title);
  field(sheet, "title").textContent = title;
  const chips = field(sheet, "variants");
  chips.replaceChildren();
  sheet.dataset.variantId = "";
  const showVariant = (price, list, stock, currency) => {
    field(sheet, "price").textContent = money(price, currency);
    field(sheet, "list").textContent =
      list && Number(list) > Number(price) ? money(list, currency) : "";
    field(sheet, "stock").textContent = stock > 0 ? t("room.stock_n", { n: stock }) : t("room.sold_out");
  };
  const dropPrice = state.drop?.product.id === productId ? state.drop.product.price : null;
  if (product) {
    const variants = product.variants.filter((v) => !v.archived);
    variants.forEach((v, i) => {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "variant-chip";
      chip.setAttribute("role", "radio");
      chip.setAttribute("aria-checked", String(i === 0));
      chip.disabled = v.stock <= 0;
      const options = Object.values(v.options).join(" / ") || v.sku;
      const name = document.createElement("span");
      name.textContent = options;
      const price = document.createElement("small");
      price.textContent = money(v.price, product.currency);
      chip.append(name, price);
      chip.addEventListener("click", () => {
        chips.querySelectorAll(".variant-chip").forEach((c) => c.setAttribute("aria-checked", "false"));
        chip.setAttribute("aria-checked", "true");
        sheet.dataset.variantId = String(v.id);
        showVariant(v.price, v.list_price, v.stock, product.currency);
      });
      chips.append(chip);
    });
    const first = variants[0];
    if (first) sheet.dataset.variantId = String(first.id);
    if (first) showVariant(first.price, first.list_price, first.stock, product.currency);
    else showVariant(product.price_from, null, 0, product.currency);
  } else if (card) {
    showVariant(card.price, card.list_price, card.stock, card.currency);
  }
  if (dropPrice !== null && product) field(sheet, "price").textContent = money(dropPrice, product.currency);
  setUpSaleButton(sheet, productId, mode);
  openSheet("buy-sheet");
}

// --- the flash sale: one press, one idempotency key, the gate's answer shown as it is ------------

function saleFor(productId) {
  return state.drop && state.drop.product.id === productId ? state.drop.sale : null;
}

// The orders of the sales won here (sale id → order id), so "pay now" stays on reopening.
const wonOrders = new Map();

// A link under the sheet's button: "pay now" after a won sale, "go to cart" after adding.
function goLink(sheet, href, text, primary = true) {
  let link = field(sheet, "go");
  if (!link) {
    link = document.createElement("a");
    link.dataset.f = "go";
    field(sheet, "buy").after(link);
  }
  link.className = `btn ${primary ? "btn-primary" : "btn-ghost"} btn-block sheet-go`;
  link.href = href;
  link.textContent = text;
  link.hidden = false;
}

function setUpCartButton(sheet, button, note) {
  note.textContent = t("room.cart_note");
  button.disabled = !sheet.dataset.variantId;
  button.textContent = t("room.add_to_cart");
  button.onclick = async () => {
    if (!page.token) {
      location.href = page.login_url;
      return;
    }
    button.disabled = true;
    try {
      await api("POST", "/api/v1/cart/items", {
        variant_id: Number(sheet.dataset.variantId), quantity: 1, source: "live", show_id: page.show_id,
      });
      note.textContent = t("room.added_to_cart");
      goLink(sheet, "/cart", t("room.go_cart"), false);
    } catch (err) {
      note.textContent = roomErrorText(err);
    } finally {
      button.disabled = false;
    }
  };
}

function setUpSaleButton(sheet, productId, mode) {
  const button = field(sheet, "buy");
  const note = field(sheet, "note");
  const sale = saleFor(productId);
  button.onclick = null;
  button.hidden = false;
  if (field(sheet, "go")) field(sheet, "go").hidden = true;
  if (!sale && mode === "cart") {
    setUpCartButton(sheet, button, note);
    return;
  }
  if (!sale) {
    button.disabled = true;
    button.textContent = t("room.checkout_soon");
    note.textContent = t("room.checkout_later");
    return;
  }
  field(sheet, "price").textContent = money(sale.price, state.drop.product.currency);
  note.textContent = t("room.sale_terms", { n: sale.per_buyer_limit });
  let soldOut = false;
  const won = wonOrders.get(sale.sale_id);
  if (won) goLink(sheet, `/orders/${won}`, t("room.pay_order"));
  const refresh = () => {
    if (soldOut) {
      button.disabled = true;
      button.textContent = t("room.sold_out");
      return;
    }
    const open = dropState(state.drop, client.serverNow()).open;
    button.disabled = !open || button.dataset.busy === "1";
    button.textContent = open ? t("room.buy_now") : t("room.not_open_yet");
    if (!open) setTimeout(refresh, 200);
  };
  refresh();
  button.onclick = async () => {
    if (!page.token) {
      location.href = page.login_url;
      return;
    }
    button.dataset.busy = "1";
    button.disabled = true;
    const key = crypto.randomUUID();
    try {
      const claim = await api("POST", `/api/v1/sales/${sale.sale_id}/purchase`, { quantity: 1 },
        { "Idempotency-Key": key });
      note.textContent = t("room.won_pay", { total: money(claim.total, claim.currency) });
      say(t("room.won_short"), { kind: "info" });
      try {
        const order = await api("GET", `/api/v1/sales/claims/${claim.id}/order`);
        wonOrders.set(sale.sale_id, order.id);
        goLink(sheet, `/orders/${order.id}`, t("room.pay_order"));
        button.hidden = true;
      } catch {
        goLink(sheet, "/orders?status=awaiting_payment", t("room.pay_order"));
      }
    } catch (err) {
      note.textContent = roomErrorText(err);
      soldOut = err.code === "sold_out" || err.code === "sale_closed";
    } finally {
      button.dataset.busy = "";
      refresh();
    }
  };
}

// --- likes -------------------------------------------------------------------------------------

function showLikes() {
  const total = Math.max(state.likesShown, state.likes + client.pendingLikes);
  state.likesShown = total;
  $("like-total").textContent = compact(total);
}

const HEART_COLOURS = ["#ff2e63", "#ff7a45", "#ffc93c", "#ff6fb5", "#8f7bff", "#4cd3b0"];
function floatHeart() {
  const heart = document.createElement("span");
  heart.className = "heart";
  heart.textContent = "❤";
  heart.style.color = HEART_COLOURS[Math.floor(Math.random() * HEART_COLOURS.length)];
  heart.style.setProperty("--dx", `${Math.round(Math.random() * 60 - 30)}px`);
  $("hearts").append(heart);
  heart.addEventListener("animationend", () => heart.remove());
}

$("like").addEventListener("click", () => {
  if (!page.user) {
    say(t("room.login_to_like"), { kind: "info" });
    return;
  }
  floatHeart();
  client.like(1);
  showLikes();
});

// --- follow ------------------------------------------------------------------------------------

const follow = $("follow");
function showFollow() {
  if (!follow) return;
  follow.setAttribute("aria-pressed", String(state.following));
  follow.textContent = state.following ? t("room.following") : t("room.follow");
}
follow?.addEventListener("click", () => {
  if (!page.user) {
    location.href = page.login_url;
    return;
  }
  if (!client.send({ type: "follow", on: !state.following })) say(t("room.reconnecting"));
});

// --- posting -----------------------------------------------------------------------------------

const form = $("chat-form");
if (form) {
  const input = form.elements.text;
  const question = form.elements.question;
  question.addEventListener("change", () => {
    input.placeholder = question.checked ? input.dataset.ask : input.dataset.chat;
    form.classList.toggle("is-question", question.checked);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (!client.send({ type: "chat", text, question: question.checked })) {
      say(t("room.reconnecting"));
      return;
    }
    input.value = "";
    if (question.checked) {
      question.checked = false;
      question.dispatchEvent(new Event("change"));
    }
  });
}

// --- the connection ----------------------------------------------------------------------------

function showSlowMode(seconds) {
  state.slowMode = seconds;
  const hint = $("slow-hint");
  hint.hidden = !seconds || !form;
  hint.textContent = seconds ? t("room.slow_mode", { s: seconds }) : "";
}

function showEnded() {
  state.ended = true;
  $("ended").hidden = false;
  clearTimeout(dropTimer);
  client.stop();
}

/**
 * The host ended the show: say so when the viewer's own picture gets there (the moment the host
 * pressed end, or the video's last frame, whichever comes first), like the drop card, not when
 * the message arrives seconds ahead of the picture. At once without a playing video.
 */
function endWithPicture(tEvent) {
  if (state.ended || state.ending) return;
  state.ending = true;
  const end = () => {
    videoEl?.removeEventListener("ended", end);
    if (!state.ended) showEnded();
  };
  videoEl?.addEventListener("ended", end);
  videoClock.at(tEvent, end);
}

function applySnapshot(s) {
  videoClock.flush(); // the snapshot is the room as it is now
  state.you = s.you;
  state.hostId = s.show.host_id;
  state.pinned = s.pinned;
  state.likes = s.likes;
  $("online").textContent = compact(s.online);
  showLikes();
  setExplaining(s.explaining);
  const drops = [...s.drops].sort((a, b) => a.t_event - b.t_event);
  setDrop(drops.length ? drops[drops.length - 1] : null);
  showSlowMode(s.slow_mode);
  state.questions.clear();
  resetChat(s.chat);
  renderQuestions();
  loadQuestions();
  if (s.you.restriction === "ban" && form) say(t("err.banned"), { sticky: true });
  if (s.show.state === "ended" || s.show.state === "cancelled") showEnded();
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
      videoClock.at(e.t_event, () =>
        setExplaining({ explanation_id: e.explanation_id, product: e.product, t_event: e.t_event }),
      );
      break;
    case "explain_stopped":
      videoClock.at(e.t_event, () => {
        if (state.explaining?.explanation_id === e.explanation_id) setExplaining(null);
      });
      break;
    case "product_pinned":
      state.pinned = e.product;
      renderCard();
      break;
    case "drop_opened":
      // The card shows when the viewer's video reaches t_event (at once without video); the
      // button opens at opens_at on the server's clock either way.
      videoClock.at(e.t_event, () =>
        setDrop({ drop_id: e.drop_id, product: e.product, t_event: e.t_event, opens_at: e.opens_at, sale: e.sale }),
      );
      break;
    case "show_state":
      if (e.state === "ended" || e.state === "cancelled") endWithPicture(e.t_event);
      break;
    case "slow_mode":
      showSlowMode(e.seconds);
      break;
    case "user_restricted":
      if (state.you && e.user_id === state.you.id) {
        if (e.kind === "lift") say(t("room.unmuted"), { kind: "info" });
        else say(roomErrorText({ code: e.kind === "ban" ? "banned" : "muted",
          data: e.until_ms ? { retry_after_ms: e.until_ms - client.serverNow() } : {} }), { sticky: e.kind === "ban" });
      }
      break;
    default:
      break;
  }
}

function applyMessage(m) {
  switch (m.type) {
    case "tick":
      $("online").textContent = compact(m.online);
      state.likes = m.likes;
      showLikes();
      break;
    case "chat_posted": // my own line while shadow-banned: shown to me as if posted
      addChat(m.message);
      break;
    case "notice":
      if (m.code === "followed" || m.code === "unfollowed") {
        state.following = m.code === "followed";
        showFollow();
        if (state.following) toast(t("room.followed"));
      }
      break;
    case "error":
      say(roomErrorText(m));
      break;
    default:
      break;
  }
}

const conn = $("conn");
function onStatus(status) {
  conn.dataset.status = status;
  if (status === "open") {
    conn.hidden = true;
  } else if (status === "gone") {
    conn.hidden = false;
    conn.textContent = t("room.gone");
  } else {
    conn.hidden = false;
    conn.textContent = status === "connecting" ? t("room.connecting") : t("room.reconnecting");
  }
}

const client = connectRoom(page, {
  onSnapshot: applySnapshot,
  onEvent: applyEvent,
  onMessage: applyMessage,
  onStatus,
});
window.lcRoom = client; // for the console of a curious developer, and for tests
showFollow();
loadLineup();
$("open-qa").addEventListener("click", () => openSheet("qa-sheet"));
