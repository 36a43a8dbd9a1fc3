// The supervisor page: renders the server's snapshots (server-sent events), draws the
// time series as SVG, and sends the supervisor's actions. No library, no build step.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  if (params.has("token")) { // out of the address bar (history, screenshots, a shared link)
    params.delete("token");
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
  }
  const I18N = {
    zh: {
      title: "坐席监控", connecting: "连接中…", live: "实时", offline_conn: "已断开，重连中…",
      my_extension: "我的分机（监听用）", linkage: "12345 ⇄ 110 联动（近一小时）", history: "历史数据导出",
      from: "从", to: "到", by: "粒度", by_hour: "按小时", by_day: "按天", download: "下载 CSV",
      site_12345: "12345 政务服务热线", site_110: "110 报警服务台", site_remote: "远程座席",
      logged_in: "在线座席", occupancy: "占用率", waiting: "排队", longest_wait: "最长等待",
      overflowed: "溢出（近1小时）", ivr: "IVR 自助中", answer_rate: "接通率", service_level: "服务水平",
      seat: "座席", state: "状态", in_state: "持续", actions: "操作",
      idle: "空闲", ringing: "振铃", talking: "通话", wrap_up: "话后", paused: "示忙", offline: "离线",
      pause: "示忙", ready: "示闲", logout: "签出", listen: "监听",
      direction: "方向", transfers: "一键转接", transfers_done: "转接成功", conferences: "三方通话",
      conferences_done: "三方接通", chart_waiting: "排队数", chart_occupancy: "占用率 %",
      surge: "话务高峰：{site} 正在溢出到远程座席，预计等待 {wait} 秒",
      sl_hint: "服务水平目标：{s} 秒内接听", pause_reason: "主管示忙",
      need_listener: "请先在右上角填写您自己的分机号", done: "已执行：{what}", failed: "失败：{what}",
      alerts: "告警（近一小时）", no_alerts: "无", alert_push_dead: "推送失败（已停止重试）",
      alert_linkage_supervisor_alert: "联动需主管处理",
      alert_ticket_intake_alert: "网上/短信报事含紧急情形，请立即处置",
      alert_linkage_refused: "单位拒收，需重新派单", alert_linkage_police_requested: "单位请求联动110",
      alert_linkage_leadership_notified: "重大事件已上报领导",
      alert_exchange_alert: "交互通道告警", alert_exchange_link: "交互通道状态变化",
      alert_analysis_alert: "风险预警：工单激增或危险线索聚集",
      exchange: "交互通道", x_off: "未启用（单一部署，无对端）", x_state: "链路", x_since: "持续",
      x_waiting: "待送达消息", x_oldest: "最久等待", x_stopped: "已停止队列", x_dead: "死信",
      x_directions: "各方向", x_error: "原因", x_last_alert: "最近告警", colon: "：",
      link_off: "未启用", link_unknown: "检测中", link_up: "正常", link_down: "中断",
      link_refused: "消息被拒收", link_key_alert: "密钥/时钟告警",
      emergency: "紧急", no_seats: "无座席", show_offline: "显示离线座席", offline_hidden: "另有 {n} 个离线座席",
      callbacks: "回电", cb_pending: "待回电", cb_done: "回电接通（近1小时）", cb_failed: "回电未接通（近1小时）",
      cb_missed_made: "漏接回拨（近1小时）", cb_missed_skipped: "漏接已接通免回拨（近1小时）",
      cb_number: "号码", cb_source: "来源", cb_stage: "进度", cb_attempts: "尝试", cb_waited: "已等待",
      cb_none: "无待回电请求", cb_more: "另有 {n} 条", cb_unavailable: "回电队列暂时读不到，稍后重试",
      cb_src_ivr: "自助语音", cb_src_web: "网上申请", cb_src_missed: "漏接来电",
      cb_st_pending: "排队待回", cb_st_offering: "分配座席", cb_st_agent_ringing: "座席振铃",
      cb_st_connecting: "呼叫市民", cb_st_retry: "待重试", cb_st_done: "已接通", cb_st_failed: "未接通",
      cb_st_skipped: "免回拨",
    },
    en: {
      title: "Supervisor dashboard", connecting: "connecting…", live: "live", offline_conn: "disconnected, retrying…",
      my_extension: "My extension (to listen)", linkage: "12345 ⇄ 110 linkage (last hour)", history: "History export",
      from: "From", to: "To", by: "By", by_hour: "hour", by_day: "day", download: "Download CSV",
      site_12345: "12345 government hotline", site_110: "110 police", site_remote: "Remote seats",
      logged_in: "Logged in", occupancy: "Occupancy", waiting: "Waiting", longest_wait: "Longest wait",
      overflowed: "Overflowed (1 h)", ivr: "In IVR", answer_rate: "Answer rate", service_level: "Service level",
      seat: "Seat", state: "State", in_state: "For", actions: "Actions",
      idle: "idle", ringing: "ringing", talking: "talking", wrap_up: "wrap-up", paused: "paused", offline: "offline",
      pause: "Pause", ready: "Ready", logout: "Log out", listen: "Listen",
      direction: "Direction", transfers: "Transfers", transfers_done: "answered", conferences: "Three-way calls",
      conferences_done: "joined", chart_waiting: "waiting", chart_occupancy: "occupancy %",
      surge: "Surge: {site} is overflowing to remote seats, estimated wait {wait} s",
      sl_hint: "Service level target: answered within {s} s", pause_reason: "paused by supervisor",
      need_listener: "Enter your own extension (top right) first", done: "Done: {what}", failed: "Failed: {what}",
      alerts: "Alerts (last hour)", no_alerts: "none", alert_push_dead: "push failed (no more retries)",
      alert_linkage_supervisor_alert: "closed loop needs a supervisor",
      alert_ticket_intake_alert: "web/SMS/app report with an emergency cue: act now",
      alert_linkage_refused: "a unit refused the case: dispatch it anew",
      alert_linkage_police_requested: "a unit asked for the police (110)",
      alert_linkage_leadership_notified: "major incident: leadership notified",
      alert_exchange_alert: "exchange link alert", alert_exchange_link: "exchange link changed",
      alert_analysis_alert: "early warning: a surge of tickets or a cluster of danger cues",
      exchange: "Exchange link", x_off: "off (single deployment, no peer)", x_state: "Link", x_since: "For",
      x_waiting: "Waiting messages", x_oldest: "Oldest waiting", x_stopped: "Stopped queues", x_dead: "Dead letters",
      x_directions: "Each way", x_error: "Cause", x_last_alert: "Last alert", colon: ": ",
      link_off: "off", link_unknown: "checking", link_up: "up", link_down: "down",
      link_refused: "refused", link_key_alert: "key alert",
      emergency: "emergency", no_seats: "no seats", show_offline: "Show offline seats", offline_hidden: "{n} more seats offline",
      callbacks: "Callbacks", cb_pending: "Pending callbacks", cb_done: "Callbacks answered (1 h)",
      cb_failed: "Callbacks unanswered (1 h)", cb_missed_made: "Missed-call callbacks (1 h)",
      cb_missed_skipped: "Missed, got through later (1 h)",
      cb_number: "Number", cb_source: "Source", cb_stage: "Step", cb_attempts: "Attempts", cb_waited: "Waiting",
      cb_none: "no open callback requests", cb_more: "{n} more", cb_unavailable: "callback queue unreadable, retrying",
      cb_src_ivr: "IVR", cb_src_web: "web", cb_src_missed: "missed call",
      cb_st_pending: "waiting", cb_st_offering: "offering", cb_st_agent_ringing: "agent ringing",
      cb_st_connecting: "dialling citizen", cb_st_retry: "retry", cb_st_done: "answered", cb_st_failed: "unanswered",
      cb_st_skipped: "skipped",
    },
  };
  let lang = localStorage.getItem("hl-lang") || "zh";
  let snapshot = null;
  let clockSkew = 0; // browser clock minus server clock, seconds
  // the open callback requests (回电) per site, from GET /api/callbacks: read anew when the
  // snapshot says a step of the site's callbacks was seen, and every CALLBACKS_EVERY_MS (the
  // platform's callbacks may be offered by another server instance, whose steps this one
  // does not see)
  const CALLBACKS_EVERY_MS = 30000, CALLBACK_ROWS = 8;
  const callbacks = {}; // site -> {requests, pending} | {absent: true} (no queue here) | {failed: true, ...}
  const callbackStep = {}; // site -> the callbacks_last_step_at its list was last read for
  const callbackAsks = {}; // site -> the latest read's number: an older answer arriving late is dropped

  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.zh[key] || key;
    for (const [k, v] of Object.entries(vars || {})) text = text.replace("{" + k + "}", v);
    return text;
  };
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  };
  const pct = (ratio) => (ratio === null || ratio === undefined ? "–" : Math.round(ratio * 100) + "%");
  const duration = (s) => {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  const serverNow = () => Date.now() / 1000 - clockSkew;

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title") + " · hotline-link";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = lang === "zh" ? "English" : "中文";
    render();
  }

  function kpi(label, value, id) {
    return el("div", { class: "kpi", "data-kpi": id }, el("b", {}, value), el("span", {}, label));
  }

  function chart(series, windowS) {
    const W = 600, H = 120, P = 22, now = snapshot.now;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("class", "chart");
    svg.setAttribute("preserveAspectRatio", "none");
    const add = (tag, attrs, text) => {
      const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
    };
    const maxWaiting = Math.max(4, ...series.map((p) => p[1]));
    const x = (ts) => P + ((ts - (now - windowS)) / windowS) * (W - 2 * P);
    const yW = (w) => H - P + 4 - (w / maxWaiting) * (H - P - 8);
    const yO = (o) => H - P + 4 - o * (H - P - 8);
    for (const frac of [0, 0.5, 1]) add("line", { class: "grid", x1: P, x2: W - P, y1: yO(frac), y2: yO(frac) });
    add("text", { x: 2, y: yW(maxWaiting) + 4 }, String(maxWaiting));
    add("text", { x: 2, y: yW(0) }, "0");
    add("text", { x: W - 2, y: yO(1) + 4, "text-anchor": "end" }, "100%");
    add("text", { x: P, y: H - 4 }, "-60 min");
    add("text", { x: W - P - 20, y: H - 4 }, "now");
    const line = (pick, y, cls) => {
      const pts = series.filter((p) => pick(p) !== null).map((p) => `${x(p[0]).toFixed(1)},${y(pick(p)).toFixed(1)}`);
      if (pts.length) add("polyline", { class: cls, points: pts.join(" ") });
    };
    line((p) => p[1], yW, "waiting");
    line((p) => p[2], yO, "occupancy");
    return svg;
  }

  function seatRow(site, seat) {
    const inState = Math.max(0, serverNow() - seat.since);
    const action = (label, fn) => el("button", { type: "button", "data-action": label, onclick: fn }, t(label));
    return el("tr", { "data-site": site, "data-seat": seat.seat, "data-state": seat.state },
      el("td", {}, seat.seat),
      el("td", {}, el("span", { class: "state st-" + seat.state }, t(seat.state))),
      el("td", { class: "num", "data-since": seat.since }, duration(inState)),
      el("td", { class: "actions" },
        seat.state === "paused" ? action("ready", () => act(`/api/agents/${seat.seat}/ready`, {}, "ready " + seat.seat))
          : action("pause", () => act(`/api/agents/${seat.seat}/pause`, { reason: t("pause_reason") }, "pause " + seat.seat)),
        seat.state !== "offline" ? action("logout", () => act(`/api/supervisor/agents/${seat.seat}/logout`, {}, "logout " + seat.seat)) : "",
        seat.state === "talking" ? action("listen", () => listen(seat.seat)) : ""));
  }

  function callbackRow(r) { // the number as the API gives it: masked there, never here
    const sources = (r.sources && r.sources.length ? r.sources : [r.source]).map((s) => t("cb_src_" + s)).join("、");
    return el("tr", { "data-callback": r.id, "data-stage": r.stage },
      el("td", { class: "num", "data-number": "" }, r.number),
      el("td", {}, sources),
      el("td", {}, t("cb_st_" + r.stage) + (r.agent ? " " + r.agent : "")),
      el("td", { class: "num" }, r.attempts + "/" + r.max_attempts),
      el("td", { class: "num", "data-since": r.created_at }, duration(serverNow() - r.created_at)));
  }

  function callbackPart(id, f) { // the site's callback queue (回电): figures, then its open requests
    const queue = callbacks[id] || {};
    if (queue.absent) return ""; // the site has no callback queue here (remote seats)
    const part = el("div", { class: "callbacks", "data-callbacks": id }, el("h3", {}, t("callbacks")));
    part.append(el("div", { class: "kpis" },
      kpi(t("cb_pending"), f.callbacks_pending, "callbacks_pending"),
      kpi(t("cb_done"), f.callbacks_done_last_hour, "callbacks_done"),
      kpi(t("cb_failed"), f.callbacks_failed_last_hour, "callbacks_failed"),
      kpi(t("cb_missed_made"), f.missed_callbacks_made_last_hour, "missed_callbacks_made"),
      kpi(t("cb_missed_skipped"), f.missed_callbacks_skipped_answered_last_hour, "missed_callbacks_skipped")));
    if (queue.failed) part.append(el("p", { class: "cb-note cb-failed" }, t("cb_unavailable")));
    if (!queue.requests) return part;
    const table = el("table", { class: "cb-list" }, el("tr", {}, el("th", {}, t("cb_number")),
      el("th", {}, t("cb_source")), el("th", {}, t("cb_stage")), el("th", {}, t("cb_attempts")),
      el("th", {}, t("cb_waited"))));
    for (const r of queue.requests.slice(0, CALLBACK_ROWS)) table.append(callbackRow(r));
    if (!queue.requests.length) table.append(el("tr", {}, el("td", { colspan: 5 }, t("cb_none"))));
    if (queue.requests.length > CALLBACK_ROWS) {
      table.append(el("tr", { class: "cb-more" }, el("td", { colspan: 5 }, t("cb_more", { n: queue.requests.length - CALLBACK_ROWS }))));
    }
    part.append(table);
    return part;
  }

  async function readCallbacks(site) {
    const ask = (callbackAsks[site] || 0) + 1;
    callbackAsks[site] = ask;
    let fresh;
    try {
      const resp = await fetch("/api/callbacks?site=" + encodeURIComponent(site),
        { headers: { Authorization: "Bearer " + token } });
      if (resp.status === 403 || resp.status === 404) fresh = { absent: true };
      else if (!resp.ok) fresh = { ...(callbacks[site] || {}), failed: true };
      else {
        const found = ((await resp.json()).sites || []).find((s) => s.site === site);
        fresh = found ? { requests: found.requests, pending: found.pending } : { absent: true };
      }
    } catch (err) {
      fresh = { ...(callbacks[site] || {}), failed: true };
    }
    if (ask !== callbackAsks[site]) return; // a later read is under way or done
    callbacks[site] = fresh;
    render();
  }

  function followCallbacks(everySite) {
    for (const id of snapshot.site_order) {
      const f = snapshot.sites[id];
      if (!f || (callbacks[id] && callbacks[id].absent)) continue;
      const step = f.callbacks_last_step_at === undefined ? null : f.callbacks_last_step_at;
      if (everySite || !(id in callbackStep) || callbackStep[id] !== step) {
        callbackStep[id] = step;
        readCallbacks(id);
      }
    }
  }

  function siteCard(id, f) {
    const card = el("article", { class: "site" + (f.overflow.active ? " overflowing" : ""), "data-site": id });
    card.append(el("h2", {}, t("site_" + id)));
    const waitingText = f.waiting + (f.waiting_emergency ? ` (${f.waiting_emergency} ${t("emergency")})` : "");
    card.append(el("div", { class: "kpis" },
      kpi(t("logged_in"), f.logged_in, "logged_in"), kpi(t("occupancy"), pct(f.occupancy), "occupancy"),
      kpi(t("waiting"), waitingText, "waiting"), kpi(t("longest_wait"), duration(f.longest_wait_s), "longest_wait"),
      kpi(t("overflowed"), f.overflowed_last_hour, "overflowed"), kpi(t("ivr"), f.ivr_in_progress, "ivr"),
      kpi(t("answer_rate"), pct(f.answer_rate), "answer_rate"), kpi(t("service_level"), pct(f.service_level), "service_level")));
    card.append(el("div", { class: "legend" }, el("span", { class: "w" }, "— " + t("chart_waiting")), "  ",
      el("span", { class: "o" }, "— " + t("chart_occupancy"))));
    card.append(chart(f.series, snapshot.window_s));
    card.append(callbackPart(id, f));
    const table = el("table", { class: "seats" }, el("tr", {}, el("th", {}, t("seat")), el("th", {}, t("state")),
      el("th", {}, t("in_state")), el("th", {}, t("actions"))));
    const showOffline = $("show-offline").checked;
    const shown = f.seats.filter((seat) => showOffline || seat.state !== "offline");
    for (const seat of shown) table.append(seatRow(id, seat));
    if (!f.seats.length) table.append(el("tr", {}, el("td", { colspan: 4 }, t("no_seats"))));
    if (shown.length < f.seats.length) {
      table.append(el("tr", { class: "hidden-offline" }, el("td", { colspan: 4 }, t("offline_hidden", { n: f.seats.length - shown.length }))));
    }
    card.append(table);
    return card;
  }

  const alertText = (a) => new Date(a.at * 1000).toLocaleTimeString() + " " + t("alert_" + a.kind.replace(".", "_")) +
    (a.site ? " [" + a.site + "]" : "") + " " + a.detail;

  function exchangePanel(x) { // the link to the other deployment (交互通道); off with one deployment
    const bad = x && x.enabled && ["down", "refused", "key_alert"].includes(x.state);
    $("exchange-panel").className = "panel" + (bad ? " x-bad" : "");
    if (!x || !x.enabled) {
      return [el("p", { class: "x-off", "data-link": "off", title: (x && x.reason) || "" }, t("x_off"))];
    }
    const known = (v) => v !== null && v !== undefined;
    const dirs = Object.entries(x.waiting_by_direction || {}).map(([d, n]) => d.replace("->", " → ") + ": " + n);
    const last = x.last_alert;
    return [
      el("div", { class: "kpis" },
        el("div", { class: "kpi", "data-kpi": "x_state" },
          el("b", {}, el("span", { class: "link lk-" + x.state, "data-link": x.state }, t("link_" + x.state))),
          el("span", {}, t("x_state") + (x.peer_platform ? " → " + x.peer_platform : ""))),
        el("div", { class: "kpi", "data-kpi": "x_since" },
          known(x.since) ? el("b", { "data-since": x.since }, duration(serverNow() - x.since)) : el("b", {}, "–"),
          el("span", {}, t("x_since"))),
        kpi(t("x_waiting"), x.waiting, "x_waiting"),
        kpi(t("x_oldest"), known(x.oldest_waiting_s) ? duration(x.oldest_waiting_s) : "–", "x_oldest"),
        kpi(t("x_stopped"), x.stopped_count, "x_stopped"),
        kpi(t("x_dead"), x.dead_count, "x_dead")),
      el("p", { class: "x-directions" }, t("x_directions") + t("colon") + dirs.join(" · ")),
      x.error ? el("p", { class: "x-error" }, t("x_error") + t("colon") + x.error) : "",
      el("p", { class: "x-alert" }, t("x_last_alert") + t("colon") + (last ? alertText(last) : t("no_alerts"))),
    ];
  }

  function render() {
    if (!snapshot) return;
    const sites = $("sites");
    const ordered = snapshot.site_order.map((id) => [id, snapshot.sites[id]]);
    sites.replaceChildren(...ordered.map(([id, f]) => siteCard(id, f)));
    const surging = ordered.filter(([, f]) => f.overflow.active);
    $("surge").hidden = !surging.length;
    $("surge").textContent = surging.map(([id, f]) => t("surge", { site: id, wait: Math.round(f.overflow.estimated_wait_s) })).join("；");
    const linkage = $("linkage");
    linkage.replaceChildren(el("tr", {}, el("th", {}, t("direction")), el("th", {}, t("transfers")),
      el("th", {}, t("transfers_done")), el("th", {}, t("conferences")), el("th", {}, t("conferences_done"))));
    for (const dir of Object.keys(snapshot.transfers)) {
      const tr = snapshot.transfers[dir], cf = snapshot.conferences[dir] || { started: 0, joined: 0 };
      linkage.append(el("tr", { "data-direction": dir }, el("td", {}, dir.replace("->", " → ")),
        el("td", { class: "num" }, tr.started), el("td", { class: "num" }, tr.answered),
        el("td", { class: "num" }, cf.started), el("td", { class: "num" }, cf.joined)));
    }
    const alerts = (snapshot.alerts || []).slice().reverse();
    $("alerts").replaceChildren(...(alerts.length ? alerts.map((a) => el("li", { "data-kind": a.kind }, alertText(a)))
      : [el("li", {}, t("no_alerts"))]));
    $("exchange").replaceChildren(...exchangePanel(snapshot.exchange));
    $("clock").textContent = t("sl_hint", { s: snapshot.service_level_s });
  }

  function tick() { // time in state (seats, the exchange link) moves every second without a new snapshot
    for (const cell of document.querySelectorAll("[data-since]")) {
      cell.textContent = duration(serverNow() - Number(cell.dataset.since));
    }
  }

  function say(text) {
    $("message").hidden = false;
    $("message").textContent = text;
  }

  async function act(path, body, what) {
    try {
      const resp = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + token,
        "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const answer = await resp.json().catch(() => ({}));
      say(resp.ok ? t("done", { what }) : t("failed", { what: what + ": " + ((answer.error || {}).message || resp.status) }));
    } catch (err) {
      say(t("failed", { what: what + ": " + err }));
    }
  }

  function listen(agent) {
    const listener = $("listener").value.trim();
    if (!listener) { say(t("need_listener")); $("listener").focus(); return; }
    localStorage.setItem("hl-listener", listener);
    act(`/api/supervisor/agents/${agent}/listen`, { listener }, "listen " + agent);
  }

  function connect() {
    const source = new EventSource("/api/supervisor/stream?token=" + encodeURIComponent(token));
    source.addEventListener("snapshot", (event) => {
      snapshot = JSON.parse(event.data);
      clockSkew = Date.now() / 1000 - snapshot.now;
      $("connection").className = "conn conn-up";
      $("connection").dataset.i18n = "live";
      $("connection").textContent = t("live");
      render();
      followCallbacks(false);
    });
    source.onerror = () => {
      $("connection").className = "conn conn-down";
      $("connection").dataset.i18n = "offline_conn";
      $("connection").textContent = t("offline_conn");
    };
  }

  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("hl-lang", lang);
    applyLanguage();
  });
  $("listener").value = localStorage.getItem("hl-listener") || "";
  $("show-offline").checked = localStorage.getItem("hl-show-offline") === "1";
  $("show-offline").addEventListener("change", () => {
    localStorage.setItem("hl-show-offline", $("show-offline").checked ? "1" : "0");
    render();
  });
  // the history's days are the hotlines' (Beijing) days, whatever the browser's zone
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  $("h-from").value = today;
  $("h-to").value = today;
  $("history").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams({ from: $("h-from").value, to: $("h-to").value, by: $("h-by").value, token });
    location.assign("/api/supervisor/history.csv?" + q.toString());
  });
  applyLanguage();
  connect();
  setInterval(tick, 1000);
  setInterval(() => { if (snapshot) followCallbacks(true); }, CALLBACKS_EVERY_MS);
})();
