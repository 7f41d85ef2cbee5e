import { $, session } from "../app.js";

// OAuth2 password flow: the token goes to sessionStorage, never into a URL.
$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#login-error");
  error.hidden = true;
  const form = new URLSearchParams({ grant_type: "password", username: $("#username").value, password: $("#password").value });
  const response = await fetch("/token", { method: "POST", body: form, headers: { Accept: "application/json" } });
  if (!response.ok) {
    error.textContent = response.status === 429 ? "Too many attempts, try again later." : "Wrong username or password.";
    error.hidden = false;
    return;
  }
  session.token = (await response.json()).access_token;
  location.assign("/ui/");
});
document.body.classList.remove("is-loading");
