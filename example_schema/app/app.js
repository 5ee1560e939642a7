// The example's single-page app (docs/cookies.md): plain JavaScript, no build step.
// The token lives only in the HttpOnly cookie the login sets; this code never sees it.
// Every POST sends Django's CSRF token (X-CSRFToken), which the cookie-authenticated
// requests need; auth/csrf/ hands it out.
"use strict";

const GRAPHQL_URL = "/graphql/";
const CSRF_URL = "/auth/csrf/";
let csrfToken = null;

const $ = (id) => document.getElementById(id);

async function fetchCsrfToken() {
  const response = await fetch(CSRF_URL, { credentials: "same-origin" });
  csrfToken = (await response.json()).csrfToken;
}

async function graphql(query, variables = {}) {
  const response = await fetch(GRAPHQL_URL, {
    method: "POST",
    credentials: "same-origin", // send the cookie (the default for same-origin fetch, said aloud)
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join(" "));
  return body.data;
}

function show(section) {
  $("loading").hidden = true;
  $("login").hidden = section !== "login";
  $("account").hidden = section !== "account";
}

async function showAccount() {
  const data = await graphql("{ me { username } sessions { id client created userAgent isCurrent } }");
  $("who").textContent = data.me.username;
  const list = $("sessions");
  list.replaceChildren(...data.sessions.map((session) => {
    const item = document.createElement("li");
    item.className = session.isCurrent ? "current" : "";
    item.dataset.client = session.client || "";
    const when = new Date(session.created).toLocaleString();
    item.textContent = `${session.client || "no client"}, since ${when}${session.isCurrent ? " (this one)" : ""}`;
    return item;
  }));
  show("account");
}

async function start() {
  await fetchCsrfToken();
  // After a reload the cookie is still there: ask who we are.
  const data = await graphql("{ me { username } }");
  if (data.me) await showAccount();
  else show("login");
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const data = await graphql(
    `mutation Login($username: String!, $password: String!) {
       login(username: $username, password: $password, client: "web") {
         __typename
         ... on LoginResult { token expiry }
         ... on OperationInfo { messages { code message } }
       }
     }`,
    { username: $("username").value, password: $("password").value },
  );
  if (data.login.__typename === "OperationInfo") {
    $("login-error").textContent = data.login.messages.map((m) => m.message).join(" ");
    return;
  }
  $("password").value = "";
  await showAccount(); // data.login.token is null: the token went into the cookie
});

$("logout").addEventListener("click", async () => {
  await graphql("mutation { logout { __typename } }"); // revokes the token and deletes the cookie
  show("login");
});

start().catch((error) => {
  $("loading").textContent = `Could not start: ${error.message}`;
});
