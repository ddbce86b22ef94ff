/*
 * Townsquare web chat widget. Embed with:
 *   <script src="https://support.example.com/webchat/widget.js" data-account="acme" async></script>
 *
 * Plain JavaScript, no dependencies. Everything the visitor or an agent wrote is inserted with
 * textContent, never as markup. The widget lives in a shadow root, so the host page's styles do
 * not leak in and ours do not leak out. The visitor token is kept in the site's localStorage and
 * sent in the Authorization header (never in a URL, so it stays out of server logs).
 */
(function () {
  "use strict";

  var script =
    document.currentScript || document.querySelector('script[src*="/webchat/widget.js"][data-account]');
  if (!script || window.__townsquareWebchat) {
    return;
  }
  window.__townsquareWebchat = true;

  var account = script.getAttribute("data-account") || "";
  var source = new URL(script.src, window.location.href);
  var base = source.origin + source.pathname.replace(/\/webchat\/widget\.js$/, "");
  var api = base + "/webchat/" + encodeURIComponent(account);
  var storeKey = "townsquare-webchat:" + base + ":" + account;

  var state = {
    token: null,
    name: null,
    email: null,
    config: null,
    sessionPromise: null,
    streaming: false,
    retryMs: 1000,
    unread: 0,
    ids: {},
    pendingClientId: null,
    pendingText: null
  };

  // -- storage (localStorage may be blocked: the chat then lasts as long as the page) ----------

  function readSaved() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey) || "null");
      if (saved && typeof saved.token === "string") {
        return saved;
      }
    } catch (ignored) {}
    return null;
  }

  function save(extra) {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey) || "{}") || {};
      saved.token = state.token;
      for (var key in extra) {
        if (Object.prototype.hasOwnProperty.call(extra, key)) {
          saved[key] = extra[key];
        }
      }
      window.localStorage.setItem(storeKey, JSON.stringify(saved));
    } catch (ignored) {}
  }

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID().replace(/-/g, "");
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  // -- DOM (textContent only) ------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  var host = el("div");
  host.id = "townsquare-webchat";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = el("link");
  style.rel = "stylesheet";
  style.href = base + "/webchat/widget.css";
  root.appendChild(style);

  var launcher = el("button", "tsq-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.appendChild(el("span", "tsq-launcher-label", "Chat"));
  var badge = el("span", "tsq-badge");
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el("section", "tsq-panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  var header = el("header", "tsq-header");
  var title = el("h2", "tsq-title", "Chat with us");
  var close = el("button", "tsq-close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(title);
  header.appendChild(close);

  var list = el("ol", "tsq-messages");
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  var greeting = el("li", "tsq-msg tsq-outbound tsq-greeting");
  var greetingText = el("p", "tsq-text", "");
  greeting.appendChild(greetingText);
  list.appendChild(greeting);

  var profile = el("div", "tsq-profile");
  var nameInput = el("input", "tsq-name");
  nameInput.type = "text";
  nameInput.maxLength = 100;
  nameInput.autocomplete = "name";
  nameInput.placeholder = "Your name (optional)";
  nameInput.setAttribute("aria-label", "Your name");
  var emailInput = el("input", "tsq-email");
  emailInput.type = "email";
  emailInput.maxLength = 320;
  emailInput.autocomplete = "email";
  emailInput.placeholder = "Your e-mail (optional)";
  emailInput.setAttribute("aria-label", "Your e-mail address");
  profile.appendChild(nameInput);
  profile.appendChild(emailInput);

  var error = el("p", "tsq-error");
  error.setAttribute("role", "alert");
  error.hidden = true;

  var composer = el("form", "tsq-composer");
  var textarea = el("textarea", "tsq-input");
  textarea.rows = 2;
  textarea.maxLength = 5000;
  textarea.placeholder = "Write a message\u2026";
  textarea.setAttribute("aria-label", "Your message");
  var send = el("button", "tsq-send", "Send");
  send.type = "submit";
  composer.appendChild(textarea);
  composer.appendChild(send);

  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(profile);
  panel.appendChild(error);
  panel.appendChild(composer);
  root.appendChild(panel);
  root.appendChild(launcher);

  function showError(message) {
    error.textContent = message || "";
    error.hidden = !message;
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) {
      return "";
    }
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function addMessage(message) {
    if (!message || typeof message.id !== "string" || state.ids[message.id]) {
      return false;
    }
    var outbound = message.direction === "outbound";
    var item = el("li", "tsq-msg " + (outbound ? "tsq-outbound" : "tsq-inbound"));
    item.setAttribute("data-id", message.id);
    item.setAttribute("data-at", message.created_at || "");
    item.appendChild(el("p", "tsq-text", String(message.text)));
    var who = outbound ? message.author || "Support" : message.author || state.name || "You";
    item.appendChild(el("p", "tsq-meta", who + " \u00b7 " + formatTime(message.created_at)));
    state.ids[message.id] = item;
    // Keep time order: history, live events and our own sends can arrive in any order.
    var at = message.created_at || "";
    var before = null;
    for (var node = list.lastChild; node && node !== greeting; node = node.previousSibling) {
      if ((node.getAttribute("data-at") || "") > at) {
        before = node;
      } else {
        break;
      }
    }
    list.insertBefore(item, before);
    list.scrollTop = list.scrollHeight;
    return true;
  }

  // -- HTTP ------------------------------------------------------------------------------------

  function request(method, path, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (state.token) {
      headers.Authorization = "Bearer " + state.token;
    }
    return window
      .fetch(api + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        mode: "cors",
        credentials: "omit",
        cache: "no-store"
      })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            return { status: response.status, data: data || {}, headers: response.headers };
          });
      });
  }

  function applyConfig(data) {
    state.config = data;
    state.token = data.token;
    state.name = data.name || null;
    state.email = data.email || null;
    title.textContent = data.title || "Chat with us";
    greetingText.textContent = data.greeting || "";
    if (data.require_email) {
      emailInput.placeholder = "Your e-mail (required)";
      emailInput.required = true;
    }
    var asked = (readSaved() || {}).profileDone && !data.require_email;
    profile.hidden = Boolean(asked || state.email || (state.name && !data.require_email));
    if (state.name) {
      nameInput.value = state.name;
    }
    if (state.email) {
      emailInput.value = state.email;
    }
    textarea.maxLength = data.max_text_length || 5000;
    save({});
  }

  function startSession(profileFields) {
    var body = { token: state.token };
    if (profileFields) {
      body.name = profileFields.name;
      body.email = profileFields.email;
    }
    return request("POST", "/session", body).then(function (answer) {
      if (answer.status !== 200) {
        throw new Error(answer.data.detail || "The chat is not available right now.");
      }
      applyConfig(answer.data);
      return answer.data;
    });
  }

  function ensureSession() {
    if (!state.sessionPromise) {
      state.sessionPromise = startSession(null).catch(function (failure) {
        state.sessionPromise = null;
        throw failure;
      });
    }
    return state.sessionPromise;
  }

  function loadHistory() {
    return request("GET", "/history").then(function (answer) {
      if (answer.status === 200 && answer.data.messages) {
        answer.data.messages.forEach(addMessage);
      }
    });
  }

  // -- live stream: Server-Sent Events read through fetch, so the token goes in a header -----

  function handleEvent(kind, data) {
    if (kind === "ready") {
      state.retryMs = 1000;
      loadHistory().catch(function () {});
    } else if (kind === "message") {
      var message;
      try {
        message = JSON.parse(data);
      } catch (ignored) {
        return;
      }
      if (addMessage(message) && panel.hidden && message.direction === "outbound") {
        state.unread += 1;
        badge.textContent = String(state.unread);
        badge.hidden = false;
      }
    }
  }

  function readStream(response) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          return;
        }
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var kind = "message";
          var data = [];
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) {
              kind = line.slice(6).trim();
            } else if (line.indexOf("data:") === 0) {
              data.push(line.slice(5).replace(/^ /, ""));
            }
          });
          if (data.length) {
            handleEvent(kind, data.join("\n"));
          }
        }
        return pump();
      });
    }
    return pump();
  }

  function connect() {
    if (state.streaming || !state.token) {
      return;
    }
    state.streaming = true;
    window
      .fetch(api + "/stream", {
        headers: { Accept: "text/event-stream", Authorization: "Bearer " + state.token },
        mode: "cors",
        credentials: "omit",
        cache: "no-store"
      })
      .then(function (response) {
        if (response.status === 401) {
          // The token expired or the server's key changed: start over as a new visitor.
          state.token = null;
          state.sessionPromise = null;
          throw new Error("unauthorized");
        }
        if (!response.ok || !response.body) {
          throw new Error("stream refused: " + response.status);
        }
        return readStream(response);
      })
      .catch(function () {})
      .then(function () {
        state.streaming = false;
        var wait = state.retryMs;
        state.retryMs = Math.min(state.retryMs * 2, 30000);
        window.setTimeout(function () {
          ensureSession().then(connect, function () {});
        }, wait);
      });
  }

  // -- sending ---------------------------------------------------------------------------------

  function submit(event) {
    event.preventDefault();
    var text = textarea.value;
    if (!text.trim()) {
      return;
    }
    showError("");
    var name = nameInput.value.trim();
    var email = emailInput.value.trim();
    var needsEmail = state.config && state.config.require_email && !state.email;
    if (needsEmail && !email) {
      showError("Please enter your e-mail address so we can reach you.");
      emailInput.focus();
      return;
    }
    // The same text retried keeps its id, so a send whose answer was lost is stored once.
    if (state.pendingText !== text) {
      state.pendingText = text;
      state.pendingClientId = randomId();
    }
    var profileChanged = !profile.hidden && ((name && name !== state.name) || (email && email !== state.email));
    send.disabled = true;
    ensureSession()
      .then(function () {
        return profileChanged ? startSession({ name: name, email: email }) : null;
      })
      .then(function () {
        return request("POST", "/messages", {
          text: text,
          client_id: state.pendingClientId,
          page: window.location.href.slice(0, 2048)
        });
      })
      .then(function (answer) {
        if (answer.status === 202) {
          addMessage({
            id: answer.data.id,
            direction: "inbound",
            text: text,
            author: state.name || "You",
            created_at: answer.data.created_at
          });
          textarea.value = "";
          state.pendingText = null;
          profile.hidden = true;
          save({ profileDone: true });
          connect();
        } else if (answer.status === 429) {
          showError("You are writing faster than we can read. Please wait a moment and send again.");
        } else if (answer.status === 401) {
          state.token = null;
          state.sessionPromise = null;
          showError("Your chat session ended. Please send again.");
        } else {
          showError(answer.data.detail ? String(answer.data.detail) : "The message could not be sent.");
        }
      })
      .catch(function (failure) {
        showError(failure && failure.message ? failure.message : "The chat is not reachable. Please try again.");
      })
      .then(function () {
        send.disabled = false;
      });
  }

  // -- opening and closing ---------------------------------------------------------------------

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    save({ open: open });
    if (open) {
      state.unread = 0;
      badge.hidden = true;
      ensureSession().then(
        function () {
          connect();
          textarea.focus();
        },
        function (failure) {
          showError(failure.message);
        }
      );
    }
  }

  launcher.addEventListener("click", function () {
    setOpen(panel.hidden);
  });
  close.addEventListener("click", function () {
    setOpen(false);
  });
  composer.addEventListener("submit", submit);
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      submit(event);
    }
  });

  function mount() {
    document.body.appendChild(host);
    var saved = readSaved();
    if (saved) {
      state.token = saved.token;
      // A returning visitor: resume the identity now, so replies that came while they were
      // away show (and new ones arrive) even before the panel is opened.
      ensureSession().then(connect, function () {});
      if (saved.open) {
        setOpen(true);
      }
    }
  }

  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
