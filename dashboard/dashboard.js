// kukuri-trending dashboard: renders the live feed (GET /api/trending/stream), a score sparkline per
// topic (GET /api/trending/history) and the job's health (GET /healthz). A viewer may rank the list
// by any computed score profile: the active one follows the feed, another one is asked for with
// GET /api/trending/topics?profile=NAME whenever the feed announces a new snapshot. The computed
// profiles come from GET /api/trending/profiles (the active one first).
// Plain DOM, no build step; every value from the API is inserted as text, never as HTML.
"use strict";

(() => {
  const HISTORY_PATH = "/api/trending/history";
  const TOPICS_PATH = "/api/trending/topics";
  const PROFILES_PATH = "/api/trending/profiles";
  const HEALTH_PATH = "/healthz";
  const STREAM_PATH = "/api/trending/stream";
  const RECONNECT_MAX_MS = 10000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  // A topic ranked at most this high, and not this high in the previous snapshot of its profile, is marked.
  const TOP_N = 10;
  // How a profile is named on its button; any other profile by its configured name.
  const PROFILE_LABELS = { rising: "Rising" };
  const NO_CHANGE_REASONS = {
    no_previous_snapshot: "no earlier snapshot to compare with",
    profile_changed: "the previous snapshot was not scored with this profile's parameters",
  };

  const state = {
    limit: Number(localStorage.getItem("kukuri-trending-limit")) || 10,
    socket: null,
    reconnectDelay: 500,
    feed: null, // the newest feed message: the active profile's list
    snapshot: null, // the list on screen
    shownProfile: null, // whose list is on screen: null for the active profile, else a profile name
    view: null, // the profile the viewer picked: null for the active one
    profiles: [], // the computed profiles ({name, fingerprint, formula, active}), the active one first
    viewRequest: 0,
    previousScores: new Map(),
    history: new Map(),
    health: null,
    updates: 0,
  };

  const $ = (id) => document.getElementById(id);

  // ---- formatting ---------------------------------------------------------------------------

  const scoreFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const countFormat = new Intl.NumberFormat();
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const timeSecondsFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });

  function duration(ms) {
    if (ms === null || ms === undefined) return "—";
    const seconds = Math.max(0, Math.round(ms / 1000));
    if (seconds < 60) return `${seconds}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
    return `${Math.floor(hours / 24)}d ${hours % 24}h`;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- rendering ----------------------------------------------------------------------------

  function profileLabel(name) {
    return PROFILE_LABELS[name] ?? name;
  }

  function changeBadge(change, reason) {
    if (change === null && reason === "new_topic") {
      const badge = el("span", "change new", "new");
      badge.title = "no activity in the previous snapshot";
      return badge;
    }
    if (change === null) {
      const badge = el("span", "change none", "—");
      badge.title = NO_CHANGE_REASONS[reason] ?? "no earlier score to compare with";
      return badge;
    }
    const rounded = Math.round(change * 100) / 100;
    if (rounded > 0) return el("span", "change up", `▲ +${scoreFormat.format(rounded)}`);
    if (rounded < 0) return el("span", "change down", `▼ −${scoreFormat.format(-rounded)}`);
    return el("span", "change flat", `– ${scoreFormat.format(0)}`);
  }

  function sparkline(scores) {
    const width = 116;
    const height = 30;
    const pad = 3;
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "spark");
    svg.setAttribute("role", "img");
    if (!scores || scores.length < 2) {
      svg.classList.add("spark-empty");
      const line = document.createElementNS(SVG_NS, "path");
      line.setAttribute("class", "line");
      line.setAttribute("d", `M${pad} ${height / 2} H${width - pad}`);
      svg.append(line);
      svg.setAttribute("aria-label", "not enough history yet");
      return svg;
    }
    const max = Math.max(...scores);
    const min = Math.min(...scores, 0);
    const span = max - min || 1;
    const step = (width - 2 * pad) / (scores.length - 1);
    const points = scores.map((s, i) => [pad + i * step, height - pad - ((s - min) / span) * (height - 2 * pad)]);
    const line = points.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`).join(" ");
    const area = document.createElementNS(SVG_NS, "path");
    area.setAttribute("class", "area");
    area.setAttribute("d", `${line} L${points.at(-1)[0].toFixed(1)} ${height - pad} L${pad} ${height - pad} Z`);
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("class", "line");
    path.setAttribute("d", line);
    path.setAttribute("vector-effect", "non-scaling-stroke");
    const last = document.createElementNS(SVG_NS, "circle");
    last.setAttribute("class", "last");
    last.setAttribute("cx", points.at(-1)[0].toFixed(1));
    last.setAttribute("cy", points.at(-1)[1].toFixed(1));
    last.setAttribute("r", "2.5");
    svg.append(area, path, last);
    svg.setAttribute("aria-label", `score over ${scores.length} snapshots, from ${scoreFormat.format(scores[0])} to ${scoreFormat.format(scores.at(-1))}`);
    return svg;
  }

  function statCell(label, value) {
    const td = el("td", "col-num cell-stat");
    td.append(el("span", "cell-label", label), document.createTextNode(countFormat.format(value)));
    return td;
  }

  // New to the top N: in it now, and below it (or not ranked at all) in the previous snapshot of the
  // same profile. Without a comparable previous snapshot (no_previous_snapshot, profile_changed)
  // nothing is new; with one, a null `previous_rank` means the topic had no row in it (new_topic) or
  // was below its 200th place or not ranked by the profile then (its score_change is set).
  function enteredTopN(topic) {
    if (topic.rank > TOP_N) return false;
    if (topic.previous_rank !== null && topic.previous_rank !== undefined) return topic.previous_rank > TOP_N;
    return topic.score_change_reason === "new_topic" || topic.score_change !== null;
  }

  function enteredTitle(topic) {
    const before = topic.previous_rank ? `#${topic.previous_rank}`
      : topic.score_change_reason === "new_topic" ? "no activity" : "not in the top 200";
    return `${before} in the previous snapshot of this profile, now #${topic.rank}`;
  }

  function topicRow(topic) {
    const tr = el("tr");
    tr.dataset.topicId = topic.topic_id;
    tr.dataset.rank = String(topic.rank);

    const rank = el("td", "cell-rank");
    rank.append(el("span", "rank", String(topic.rank)));

    const name = el("td", "cell-topic");
    const line = el("div", "topic-line");
    line.append(el("span", "topic-name", topic.name ?? topic.topic_id));
    if (enteredTopN(topic)) {
      const mark = el("span", "entered", `New in top ${TOP_N}`);
      mark.title = enteredTitle(topic);
      line.append(mark);
    }
    name.append(line);
    const meta = topic.description ? `${topic.topic_id} · ${topic.description}` : topic.topic_id;
    const metaNode = el("div", "topic-meta", meta);
    metaNode.title = meta;
    name.append(metaNode);

    const trend = el("td", "cell-trend");
    // The history is of the active profile's score: not drawn beside another profile's ranking.
    if (state.shownProfile === null) trend.append(sparkline(state.history.get(topic.topic_id)));

    const score = el("td", "col-num cell-score score", scoreFormat.format(topic.trending_score));
    score.title = `6 h score ${scoreFormat.format(topic.score_6h)}`;

    const change = el("td", "col-num cell-change");
    change.append(changeBadge(topic.score_change, topic.score_change_reason));

    tr.append(
      rank, name, trend, score, change,
      statCell("Posts 24 h", topic.posts_24h),
      statCell("Posts 6 h", topic.posts_6h),
      statCell("Authors", topic.unique_authors),
      statCell("Boosts", topic.boosts),
    );
    const before = state.previousScores.get(topic.topic_id);
    if (before !== undefined && before !== topic.trending_score) tr.classList.add("changed");
    return tr;
  }

  function renderTopics() {
    const body = state.snapshot;
    if (!body) return;
    const rows = body.topics.map(topicRow);
    $("topic-rows").replaceChildren(...rows);
    $("empty").textContent = "No topic has had activity in the last 24 hours.";
    $("empty").hidden = rows.length > 0;
    $("topics").dataset.view = state.shownProfile === null ? "active" : "shadow";
    $("topics").dataset.profile = state.shownProfile ?? "";
    // Let the highlight of changed rows fade out.
    requestAnimationFrame(() => requestAnimationFrame(() => rows.forEach((r) => r.classList.remove("changed"))));
    const end = new Date(body.generated_at);
    $("window-label").textContent =
      `24 h window ending ${dateTimeFormat.format(end)} · received ${timeSecondsFormat.format(new Date())}`;
    document.body.dataset.generatedAt = String(body.generated_at);
    document.body.dataset.updates = String(state.updates);
    renderViewNote();
  }

  function renderProfile() {
    const active = state.profiles.find((p) => p.active);
    const value = $("profile-active");
    const note = $("profile-active-note");
    if (!active) {
      value.textContent = "—";
      value.removeAttribute("title");
      note.textContent = "\u00a0";
      return;
    }
    value.textContent = profileLabel(active.name);
    value.title = `${active.name}, ${active.formula} formula, fingerprint ${active.fingerprint}`;
    const shadows = state.profiles.length - 1;
    note.textContent = shadows > 0
      ? `active · ${shadows} more computed`
      : "active · ranks kukuri's list";
    note.title = value.title;
  }

  function renderSwitch() {
    const group = $("profile-switch");
    group.hidden = state.profiles.length < 2;
    const buttons = state.profiles.map(({ name, formula, fingerprint, active: isActive }) => {
      const button = el("button", "profile-button", profileLabel(name));
      button.type = "button";
      button.dataset.profile = name;
      button.title = `${name}: ${formula} formula, fingerprint ${fingerprint}`;
      if (isActive) {
        button.append(el("span", "profile-tag", "active"));
        button.setAttribute("aria-label", `${profileLabel(name)}, the active profile`);
      }
      button.setAttribute("aria-pressed", String(isActive ? state.view === null : state.view === name));
      button.addEventListener("click", () => selectProfile(isActive ? null : name));
      return button;
    });
    group.replaceChildren(...buttons);
  }

  function renderViewNote() {
    const note = $("view-note");
    const shown = state.shownProfile;
    note.hidden = shown === null;
    if (shown === null) return;
    const active = state.profiles.find((p) => p.active);
    note.textContent = `Ranked by the shadow profile ${profileLabel(shown)}, computed beside the active profile` +
      `${active ? ` ${profileLabel(active.name)}` : ""}; kukuri shows the active profile's ranking.`;
  }

  function renderProblem(message) {
    $("topic-rows").replaceChildren();
    $("empty").textContent = message;
    $("empty").hidden = false;
  }

  function renderHealth() {
    const body = state.snapshot;
    const health = state.health;
    const now = Date.now();
    if (health) {
      $("health-last").textContent = health.last_snapshot ? timeFormat.format(new Date(health.last_snapshot)) : "none";
      $("health-last-note").textContent = health.finished_at
        ? `committed ${timeSecondsFormat.format(new Date(health.finished_at))} by ${health.source}`
        : "no snapshot committed yet";
      $("health-lag").textContent = health.last_snapshot ? duration(now - health.last_snapshot) : "—";
      const disabled = health.status === "disabled";
      $("health-lag-note").textContent = disabled
        ? "no snapshots expected"
        : `stale after ${duration(health.stale_after_ms)}`;
      const status = $("health-status");
      status.textContent =
        { ok: "Healthy", stale: "Stale", missing: "No snapshot", disabled: "Disabled" }[health.status];
      status.className = `stat-value ${health.status === "ok" || disabled ? "ok" : "bad"}`;
      $("health-status-note").textContent = {
        ok: "snapshots are current",
        disabled: "no snapshots; serving live numbers",
      }[health.status] ?? "the job is behind";
    }
    if (body) {
      // Live numbers by design (the snapshot job is off) are no fallback from a problem.
      const byDesign = body.data_source === "fallback" && !body.stale && health?.metrics_enabled === false;
      const source = $("health-source");
      source.textContent = body.data_source === "metrics" ? "Metrics" : byDesign ? "Live" : "Live fallback";
      source.className = `stat-value ${body.data_source === "metrics" || byDesign ? "" : "bad"}`;
      $("health-source-note").textContent = body.data_source === "metrics"
        ? "committed snapshot"
        : byDesign ? "snapshots disabled" : "computed from kukuri's tables";
    }
    const stale = Boolean(body?.stale) || (health !== null && health.status === "stale");
    $("stale-banner").hidden = !stale;
    document.body.dataset.stale = String(stale);
    if (stale) {
      const age = health?.last_snapshot ? `${duration(now - health.last_snapshot)} ago` : "a while ago";
      $("stale-detail").textContent = body?.data_source === "fallback"
        ? `The last snapshot is from ${age}; the numbers below are computed live from kukuri's data instead.`
        : `The last snapshot is from ${age} and live numbers are unavailable; showing that snapshot.`;
    }
  }

  // ---- data -----------------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    return response.json();
  }

  function topicsUrl(limit, profile) {
    return `${TOPICS_PATH}?limit=${limit}&profile=${encodeURIComponent(profile)}`;
  }

  // The profiles this deployment computes; none from an API without profiles (404).
  async function loadProfiles() {
    const response = await fetch(PROFILES_PATH, { cache: "no-store" });
    const body = response.ok ? await response.json() : [];
    state.profiles = Array.isArray(body) ? body.filter((p) => typeof p?.name === "string") : [];
    if (state.view !== null && !state.profiles.some((p) => p.name === state.view)) state.view = null;
    renderSwitch();
    renderProfile();
  }

  // The list of the profile the viewer picked (not the active one), for the newest snapshot.
  async function refreshView() {
    const profile = state.view;
    if (profile === null) return;
    const request = ++state.viewRequest;
    const response = await fetch(topicsUrl(state.limit, profile), { cache: "no-store" });
    const body = await response.json();
    if (request !== state.viewRequest || state.view !== profile) return;
    if (response.ok) {
      show(body, profile);
    } else if (body.error?.code === "unknown_profile") {
      // The API no longer computes it (restarted with another configuration).
      state.view = null;
      await loadProfiles();
      if (state.feed) show(state.feed, null);
    } else {
      state.snapshot = null;
      state.shownProfile = profile;
      renderViewNote();
      renderProblem(body.error?.message ?? `no list for profile ${profile}`);
      document.body.dataset.viewProblem = body.error?.code ?? "error";
    }
  }

  function selectProfile(profile) {
    if (profile === state.view) return;
    state.view = profile;
    state.viewRequest += 1; // an answer still on its way is for the previous choice
    renderSwitch();
    if (profile === null) {
      if (state.feed) show(state.feed, null);
    } else {
      refreshView().catch(() => {});
    }
  }

  async function refreshHealth() {
    try {
      state.health = await getJson(HEALTH_PATH);
    } catch {
      state.health = null;
    }
    renderHealth();
  }

  async function refreshHistory(generatedAt) {
    const ids = state.snapshot.topics.map((t) => t.topic_id);
    if (!ids.length) return;
    const body = await getJson(`${HISTORY_PATH}?topic_ids=${ids.map(encodeURIComponent).join(",")}`);
    if (!body.topics || state.shownProfile !== null || state.snapshot?.generated_at !== generatedAt) return;
    for (const topic of body.topics) state.history.set(topic.topic_id, topic.score_24h);
    document.querySelectorAll("#topic-rows tr").forEach((row) => {
      const cell = row.querySelector(".cell-trend");
      cell.replaceChildren(sparkline(state.history.get(row.dataset.topicId)));
    });
    document.body.dataset.historyFor = String(generatedAt);
  }

  // Put a list on screen: `profile` null for the active profile's (from the feed), else that profile's.
  function show(body, profile) {
    const sameList = state.snapshot && state.shownProfile === profile;
    state.previousScores = sameList
      ? new Map(state.snapshot.topics.map((t) => [t.topic_id, t.trending_score]))
      : new Map();
    state.snapshot = body;
    state.shownProfile = profile;
    delete document.body.dataset.viewProblem;
    state.updates += 1;
    renderTopics();
    renderHealth();
    if (profile === null) refreshHistory(body.generated_at).catch(() => {});
  }

  function onSnapshot(body) {
    state.feed = body;
    if (state.view === null) show(body, null);
    else refreshView().catch(() => {});
    refreshHealth();
  }

  function setConnection(kind, label) {
    $("connection").dataset.state = kind;
    $("connection-label").textContent = label;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${STREAM_PATH}?limit=${state.limit}`);
    state.socket = socket;
    setConnection("connecting", "Connecting…");
    socket.addEventListener("open", () => {
      state.reconnectDelay = 500;
      setConnection("live", "Live");
      // On every (re)connection: a restarted API may compute other profiles.
      loadProfiles().catch(() => {});
    });
    socket.addEventListener("message", (event) => {
      const body = JSON.parse(event.data);
      if (body.type === "snapshot") onSnapshot(body);
      else if (body.type === "error") $("window-label").textContent = `Feed: ${body.error.message}`;
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      setConnection("offline", "Reconnecting…");
      setTimeout(connect, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, RECONNECT_MAX_MS);
    });
  }

  function init() {
    const select = $("limit");
    if (![...select.options].some((o) => Number(o.value) === state.limit)) state.limit = 10;
    select.value = String(state.limit);
    select.addEventListener("change", () => {
      state.limit = Number(select.value);
      localStorage.setItem("kukuri-trending-limit", String(state.limit));
      if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({ limit: state.limit }));
      refreshView().catch(() => {});
    });
    connect();
    refreshHealth();
    setInterval(renderHealth, 1000);
    setInterval(refreshHealth, 15000);
  }

  init();
})();
