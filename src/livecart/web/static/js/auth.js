// Log in and sign up through the JSON API; the API sets the session cookie.
import { api, clearError, page, setBusy, showError } from "./core.js";

const HOME_BY_ROLE = { merchant_staff: "/merchant/products", host: "/host/shows" };

function after(user) {
  location.href = page.next || HOME_BY_ROLE[user.role] || "/";
}

function values(form) {
  const data = {};
  for (const [key, value] of new FormData(form)) data[key] = typeof value === "string" ? value.trim() : value;
  return data;
}

async function submit(form, path, body) {
  const box = form.querySelector('[data-role="form-error"]');
  const button = form.querySelector('button[type="submit"]');
  clearError(box, form);
  setBusy(button, true);
  try {
    const session = await api("POST", path, body);
    after(session.user);
  } catch (err) {
    showError(box, err, form);
    setBusy(button, false);
  }
}

const login = document.getElementById("login-form");
login?.addEventListener("submit", (event) => {
  event.preventDefault();
  const { email } = values(login);
  const password = new FormData(login).get("password");
  submit(login, "/api/v1/auth/login?cookie=true", { email, password });
});

const signup = document.getElementById("signup-form");
if (signup) {
  const shop = signup.querySelector("[data-merchant-only]");
  const sync = () => {
    shop.hidden = signup.elements.role.value !== "merchant";
  };
  signup.addEventListener("change", sync);
  sync();
  signup.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = values(signup);
    const body = {
      email: data.email,
      password: new FormData(signup).get("password"),
      display_name: data.display_name,
      role: data.role || "viewer",
    };
    if (body.role === "merchant") body.merchant_name = data.merchant_name || null;
    submit(signup, "/api/v1/auth/signup?cookie=true", body);
  });
}
