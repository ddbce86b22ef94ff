// Live updates: listen to the server's event stream and refresh what is on screen.
(function () {
  "use strict";
  const rows = document.getElementById("rows");
  const banner = document.getElementById("incident-banner");
  const conversation = document.getElementById("conversation") || document.getElementById("incident");
  const state = document.getElementById("live-state");
  if (!rows && !conversation && !banner) return;
  let pending = null;
  // Replies still queued: look again shortly, even if their event came before this page listened.
  if (conversation && conversation.dataset.pending === "1") {
    setTimeout(() => {
      const typing = document.activeElement && ["TEXTAREA", "INPUT"].includes(document.activeElement.tagName)
        && document.activeElement.value;
      if (!typing) window.location.reload();
    }, 2000);
  }

  function refreshRows() {
    fetch(rows.dataset.src, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const known = new Set(Array.from(rows.querySelectorAll("tr[data-id]")).map((tr) => tr.dataset.id));
        rows.innerHTML = html; // server-rendered and escaped by the template engine
        rows.querySelectorAll("tr[data-id]").forEach((tr) => { if (!known.has(tr.dataset.id)) tr.classList.add("fresh"); });
      })
      .catch(() => {});
  }

  function refresh(target) {
    fetch(target.dataset.src, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { target.innerHTML = html; }) // server-rendered and escaped
      .catch(() => {});
  }

  function schedule(fn) {
    if (pending) return;
    pending = setTimeout(() => { pending = null; fn(); }, 400);
  }

  const source = new EventSource("/api/events");
  source.addEventListener("open", () => state && state.classList.remove("off"));
  source.addEventListener("error", () => state && state.classList.add("off"));
  ["incident.opened", "incident.grew", "incident.updated", "incident.resolved", "incident.update_posted"]
    .forEach((kind) => source.addEventListener(kind, (event) => {
      if (banner) refresh(banner);
      const data = JSON.parse(event.data);
      if (conversation && conversation.id === "incident" && data.incident_id === conversation.dataset.id) {
        schedule(() => window.location.reload());
      }
    }));
  const kinds = ["conversation.created", "conversation.updated", "message.received", "reply.sent", "reply.failed"];
  kinds.forEach((kind) => source.addEventListener(kind, (event) => {
    if (rows) { schedule(refreshRows); return; }
    if (conversation && conversation.id === "incident" && kind.startsWith("reply.")) {
      schedule(() => window.location.reload()); // delivery counts of the updates
      return;
    }
    if (!conversation || conversation.id !== "conversation") return;
    const data = JSON.parse(event.data);
    const typing = document.activeElement && ["TEXTAREA", "INPUT"].includes(document.activeElement.tagName)
      && document.activeElement.value;
    if (data.conversation_id === conversation.dataset.id && !typing) schedule(() => window.location.reload());
  }));
})();
