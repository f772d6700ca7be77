// The status page: GET /status for the list and its counts, GET /status/{id} for one
// deployment, and the filtered watch stream (read with fetch, so the token travels in the
// Authorization header and never in a URL or a cookie). Everything the server sends is
// rendered with textContent: names are untrusted input.
"use strict";

(() => {
  const TOKEN_KEY = "deploystatus.token";
  const HEALTH_ORDER = { unhealthy: 0, degraded: 1, healthy: 2 };
  const HEALTHS = ["unhealthy", "degraded", "healthy"];
  const PAGE_SIZE = 100;
  const COUNTS_DEBOUNCE_MS = 1000;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 15000;
  const BUILDING_RETRY_MS = 5000;
  // The server sends a heartbeat every WATCH_HEARTBEAT_SECONDS (15 s by default): a stream
  // silent for longer than this is taken for dead and reopened.
  const STALL_MS = 45000;
  const HISTORY_SHOWN = 10;

  const $ = (id) => document.getElementById(id);
  const view = {
    signIn: $("sign-in"),
    signInForm: $("sign-in-form"),
    tokenInput: $("token-input"),
    signInMessage: $("sign-in-message"),
    signOut: $("sign-out"),
    connection: $("connection"),
    dashboard: $("dashboard"),
    chips: $("chips"),
    search: $("search"),
    notice: $("notice"),
    rows: $("rows"),
    empty: $("empty"),
    more: $("more"),
    detail: $("detail"),
    detailTitle: $("detail-title"),
    detailMessage: $("detail-message"),
    detailSummary: $("detail-summary"),
    detailReplicas: $("detail-replicas"),
    detailResources: $("detail-resources"),
    detailChanges: $("detail-changes"),
    closeDetail: $("close-detail"),
  };

  const state = {
    token: null,
    health: "",
    search: "",
    items: new Map(), // deployment id -> list item
    counts: null,
    countsFromServer: false,
    nextCursor: null,
    lastEventId: null,
    streamedBefore: false, // a stream of this session was open before: the next is a resume
    stream: null, // AbortController of the open stream
    retryMs: RETRY_MIN_MS,
    retryTimer: null,
    countsTimer: null,
    session: 0, // bumped on every sign-in, sign-out and filter change: late answers are dropped
    openId: null,
    openDocument: null,
  };

  // --- Sign-in -------------------------------------------------------------------------

  function takeTokenFromFragment() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const token = fragment.get("token");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      // Out of the address bar and the history: the fragment never reached the server.
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function showSignIn(message) {
    stopEverything();
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    view.dashboard.hidden = true;
    view.signOut.hidden = true;
    view.connection.hidden = true;
    view.signIn.hidden = false;
    view.signInMessage.textContent = message || "";
    view.tokenInput.value = "";
    view.tokenInput.focus();
  }

  function signIn(token) {
    state.token = token;
    view.signIn.hidden = true;
    view.signInMessage.textContent = "";
    view.dashboard.hidden = false;
    view.signOut.hidden = false;
    view.connection.hidden = false;
    start();
  }

  function refused() {
    showSignIn("Your token was refused (invalid or expired): sign in again.");
  }

  function authHeaders(extra) {
    return Object.assign({ Authorization: "Bearer " + state.token }, extra || {});
  }

  // --- The list --------------------------------------------------------------------------

  function stopEverything() {
    state.session += 1;
    if (state.stream) state.stream.abort();
    state.stream = null;
    clearTimeout(state.retryTimer);
    clearTimeout(state.countsTimer);
  }

  function start() {
    stopEverything();
    state.items.clear();
    state.counts = null;
    state.countsFromServer = false;
    state.nextCursor = null;
    state.lastEventId = null;
    state.streamedBefore = false;
    state.retryMs = RETRY_MIN_MS;
    view.notice.textContent = "";
    render();
    loadPage(null, state.session);
    openStream(state.session);
  }

  function filterQuery(extra) {
    const query = new URLSearchParams();
    if (state.health) query.set("health", state.health);
    for (const [key, value] of Object.entries(extra || {})) {
      if (value !== null && value !== undefined) query.set(key, String(value));
    }
    const text = query.toString();
    return text ? "?" + text : "";
  }

  async function getJson(path, session) {
    const response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
    if (session !== state.session) return null;
    if (response.status === 401) {
      refused();
      return null;
    }
    return response;
  }

  async function loadPage(cursor, session) {
    let response;
    try {
      response = await getJson("/status" + filterQuery({ limit: PAGE_SIZE, cursor }), session);
    } catch (error) {
      if (session === state.session) view.notice.textContent = "The API is unreachable.";
      return;
    }
    if (!response) return;
    if (response.status === 503) {
      view.notice.textContent = "The status view is being built; retrying…";
      state.retryTimer = setTimeout(() => {
        if (session === state.session) loadPage(cursor, session);
      }, BUILDING_RETRY_MS);
      return;
    }
    if (response.status === 404 || response.status === 405) {
      // An API without the list: the stream's first events still show every deployment.
      view.notice.textContent = "";
      render();
      return;
    }
    if (!response.ok) {
      view.notice.textContent = "The list could not be read (HTTP " + response.status + ").";
      return;
    }
    const body = await response.json();
    if (session !== state.session) return;
    view.notice.textContent = "";
    for (const item of body.items) {
      // A stream event may have brought a newer version already.
      const known = state.items.get(item.deployment_id);
      if (!known || !(known.updated_at > item.updated_at)) state.items.set(item.deployment_id, item);
    }
    state.counts = body.counts;
    state.countsFromServer = true;
    state.nextCursor = body.next_cursor;
    render();
  }

  function refreshCountsSoon() {
    if (!state.countsFromServer) return;
    clearTimeout(state.countsTimer);
    const session = state.session;
    state.countsTimer = setTimeout(async () => {
      try {
        const response = await getJson("/status" + filterQuery({ limit: 1 }), session);
        if (!response || !response.ok) return;
        const body = await response.json();
        if (session !== state.session) return;
        state.counts = body.counts;
        renderCounts();
      } catch (error) {
        // The next event tries again.
      }
    }, COUNTS_DEBOUNCE_MS);
  }

  function listItem(documentBody) {
    const replicas = documentBody.replicas || [];
    return {
      deployment_id: documentBody.deployment_id,
      name: documentBody.name,
      status: documentBody.status,
      health: documentBody.health,
      target_replicas: documentBody.target_replicas,
      running_replicas: replicas.filter((r) => r.status === "running").length,
      updated_at: documentBody.updated_at,
    };
  }

  function compareItems(a, b) {
    const byHealth = (HEALTH_ORDER[a.health] ?? 3) - (HEALTH_ORDER[b.health] ?? 3);
    if (byHealth) return byHealth;
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return a.deployment_id < b.deployment_id ? -1 : a.deployment_id > b.deployment_id ? 1 : 0;
  }

  function shownItems() {
    const needle = state.search.trim().toLowerCase();
    return [...state.items.values()]
      .filter((item) => !state.health || item.health === state.health)
      .filter((item) => !needle || String(item.name).toLowerCase().includes(needle))
      .sort(compareItems);
  }

  // --- Rendering (DOM APIs and textContent only) -----------------------------------------

  function element(tag, options, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(options || {})) {
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function healthBadge(health) {
    const known = HEALTHS.includes(health) ? health : "unknown";
    return element(
      "span",
      { className: "health health-" + known },
      element("span", { className: "dot health-" + known, "aria-hidden": "true" }),
      element("span", { className: "health-word", text: String(health) }),
    );
  }

  function timeCell(iso, prefix) {
    return element("time", { datetime: String(iso), dataset: { at: String(iso), prefix } });
  }

  function render() {
    const items = shownItems();
    view.rows.replaceChildren(
      ...items.map((item) => {
        const open = element("button", {
          type: "button",
          className: "name",
          text: String(item.name),
          "aria-label": "Open " + String(item.name),
        });
        open.addEventListener("click", () => openDetail(item.deployment_id));
        const row = element(
          "tr",
          { dataset: { id: item.deployment_id, health: String(item.health) } },
          element("th", { scope: "row" }, open),
          element("td", { className: "status", text: String(item.status) }),
          element("td", {}, healthBadge(item.health)),
          element("td", {
            className: "replicas",
            text: item.running_replicas + "/" + item.target_replicas,
          }),
          element("td", { className: "updated" }, timeCell(item.updated_at, "updated ")),
        );
        if (item.deployment_id === state.openId) row.classList.add("open");
        return row;
      }),
    );
    view.empty.hidden = items.length > 0;
    view.more.hidden = !state.nextCursor;
    renderCounts();
    renderTimes();
  }

  function renderCounts() {
    let counts = state.counts;
    if (!state.countsFromServer) {
      // No list endpoint: count what the stream showed (every deployment while unfiltered).
      counts = { healthy: 0, degraded: 0, unhealthy: 0 };
      for (const item of state.items.values()) {
        if (item.health in counts) counts[item.health] += 1;
      }
    }
    const total = counts ? HEALTHS.reduce((sum, h) => sum + (counts[h] || 0), 0) : null;
    for (const node of view.chips.querySelectorAll("[data-count]")) {
      const key = node.dataset.count;
      const value = key === "all" ? total : counts && counts[key];
      node.textContent = value === null || value === undefined ? "" : String(value);
    }
    for (const chip of view.chips.querySelectorAll("button[data-health]")) {
      chip.setAttribute("aria-pressed", String(chip.dataset.health === state.health));
    }
  }

  function ago(iso) {
    const at = Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
    if (Number.isNaN(at)) return String(iso);
    const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function renderTimes() {
    for (const node of document.querySelectorAll("time[data-at]")) {
      node.textContent = (node.dataset.prefix || "") + ago(node.dataset.at);
      node.title = node.dataset.at;
    }
  }

  function setConnection(text, kind) {
    view.connection.textContent = text;
    view.connection.className = "connection " + kind;
  }

  // --- The detail view -------------------------------------------------------------------

  async function openDetail(deploymentId) {
    state.openId = deploymentId;
    state.openDocument = null;
    view.detail.hidden = false;
    view.detailMessage.textContent = "Loading…";
    for (const row of view.rows.children) {
      row.classList.toggle("open", row.dataset.id === deploymentId);
    }
    const session = state.session;
    let response;
    try {
      response = await getJson("/status/" + encodeURIComponent(deploymentId), session);
    } catch (error) {
      view.detailMessage.textContent = "The API is unreachable.";
      return;
    }
    if (!response || state.openId !== deploymentId) return;
    if (!response.ok) {
      const reason = response.status === 404 ? "not found, or not yours" : "HTTP " + response.status;
      view.detailMessage.textContent = "This deployment could not be read: " + reason + ".";
      return;
    }
    const body = await response.json();
    if (state.openId !== deploymentId || session !== state.session) return;
    renderDetail(body);
  }

  function fact(list, term, value) {
    list.append(element("dt", { text: term }), element("dd", {}, value));
  }

  function text(value) {
    return value === null || value === undefined ? "—" : String(value);
  }

  // Ids shortened to their first characters, the whole in the cell's tooltip.
  function idCell(value) {
    const whole = text(value);
    const shown = whole.length > 13 ? whole.slice(0, 12) + "…" : whole;
    return element("td", { className: "mono", text: shown, title: whole });
  }

  function renderDetail(doc) {
    state.openDocument = doc;
    view.detailMessage.textContent = "";
    view.detailTitle.textContent = text(doc.name);
    const summary = view.detailSummary;
    summary.replaceChildren();
    fact(summary, "ID", text(doc.deployment_id));
    fact(summary, "Status", text(doc.status));
    fact(summary, "Health", healthBadge(doc.health));
    fact(summary, "Replicas", listItem(doc).running_replicas + "/" + text(doc.target_replicas) + " running");
    fact(summary, "Created", timeCell(doc.created_at, ""));
    fact(summary, "Updated", timeCell(doc.updated_at, ""));

    view.detailReplicas.replaceChildren(
      ...(doc.replicas || []).map((replica) =>
        element(
          "tr",
          {},
          idCell(replica.id),
          element("td", { text: text(replica.status) }),
          idCell(replica.node_id),
          idCell(replica.container_id),
          element("td", {}, replica.started_at ? timeCell(replica.started_at, "") : "—"),
          element("td", {}, replica.stopped_at ? timeCell(replica.stopped_at, "") : "—"),
        ),
      ),
    );
    if (!(doc.replicas || []).length) {
      view.detailReplicas.append(
        element("tr", {}, element("td", { colspan: "6", text: "No replicas." })),
      );
    }

    const resources = doc.resources || {};
    view.detailResources.replaceChildren();
    fact(view.detailResources, "CPU cores", text(resources.cpu_cores));
    fact(view.detailResources, "Memory", text(resources.memory_mb) + " MB");
    fact(view.detailResources, "GPU units", text(resources.gpu_units));
    fact(view.detailResources, "Storage", text(resources.storage_gb) + " GB");

    const changes = (doc.recent_status_changes || []).slice(0, HISTORY_SHOWN);
    view.detailChanges.replaceChildren(
      ...changes.map((change) =>
        element(
          "li",
          {},
          element("span", {
            className: "transition",
            text: (change.old_status ? change.old_status + " → " : "") + text(change.new_status),
          }),
          " ",
          timeCell(change.changed_at, ""),
          change.reason ? element("span", { className: "reason", text: " " + change.reason }) : "",
        ),
      ),
    );
    if (!changes.length) view.detailChanges.append(element("li", { text: "None yet." }));
    renderTimes();
  }

  function closeDetail() {
    state.openId = null;
    state.openDocument = null;
    view.detail.hidden = true;
    for (const row of view.rows.children) row.classList.remove("open");
  }

  // --- The watch stream ------------------------------------------------------------------

  async function openStream(session) {
    const controller = new AbortController();
    state.stream = controller;
    let stallTimer = null;
    const stalled = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => controller.abort(), STALL_MS);
    };
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
    try {
      stalled();
      const response = await fetch("/status/watch" + filterQuery(), {
        headers,
        cache: "no-store",
        signal: controller.signal,
      });
      if (session !== state.session) return;
      if (response.status === 401) {
        refused();
        return;
      }
      if (response.status === 503) {
        setConnection("the status view is being built", "building");
        const retryAfter = Number(response.headers.get("Retry-After")) * 1000;
        retry(session, retryAfter > 0 ? retryAfter : BUILDING_RETRY_MS);
        return;
      }
      if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
      setConnection("live", "live");
      state.retryMs = RETRY_MIN_MS;
      // A resumed stream does not announce deployments that left or were deleted while it
      // was away: the list is read again, and what it no longer holds goes.
      if (state.streamedBefore) {
        state.items.clear();
        state.nextCursor = null;
        loadPage(null, session);
      }
      state.streamedBefore = true;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = eventParser((event) => {
        if (session === state.session) handleEvent(event);
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done || session !== state.session) break;
        stalled();
        parser(value);
      }
    } catch (error) {
      // Aborted, cut or unreachable: reconnect below, unless this stream was replaced.
    } finally {
      clearTimeout(stallTimer);
    }
    if (session !== state.session) return;
    setConnection("reconnecting…", "reconnecting");
    retry(session, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
  }

  function retry(session, delayMs) {
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => {
      if (session === state.session) openStream(session);
    }, delayMs);
  }

  // Server-Sent Events, as the HTML standard parses them, fed with decoded text chunks.
  function eventParser(dispatch) {
    let buffer = "";
    let name = "";
    let data = [];
    let id = null;
    return (chunk) => {
      buffer += chunk;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length) dispatch({ name: name || "message", data: data.join("\n"), id });
          name = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
      }
    };
  }

  function handleEvent(event) {
    if (event.id !== null) state.lastEventId = event.id;
    let body;
    try {
      body = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (event.name === "status") {
      const item = listItem(body);
      state.items.set(item.deployment_id, item);
      if (state.openId === item.deployment_id) renderDetail(body);
    } else if (event.name === "deleted" || event.name === "left") {
      state.items.delete(body.deployment_id);
      if (event.name === "deleted" && state.openId === body.deployment_id) {
        view.detailMessage.textContent = "This deployment was deleted.";
      }
    } else {
      return; // `version`: only the id moved, recorded above
    }
    render();
    refreshCountsSoon();
  }

  // --- Wiring ------------------------------------------------------------------------------

  view.signInForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = view.tokenInput.value.trim().replace(/^Bearer\s+/i, "");
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    view.tokenInput.value = "";
    signIn(token);
  });
  view.signOut.addEventListener("click", () => showSignIn("Signed out."));
  view.chips.addEventListener("click", (event) => {
    const chip = event.target.closest("button[data-health]");
    if (!chip || chip.dataset.health === state.health) return;
    state.health = chip.dataset.health;
    start();
  });
  view.search.addEventListener("input", () => {
    state.search = view.search.value;
    render();
  });
  view.more.addEventListener("click", () => loadPage(state.nextCursor, state.session));
  view.closeDetail.addEventListener("click", closeDetail);
  setInterval(renderTimes, 1000);

  takeTokenFromFragment();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
  else showSignIn("");
})();
