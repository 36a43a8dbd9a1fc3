// The supervisor's analysis page (联合分析与风险预警): the early warnings (re-read every 15 s),
// a period's figures drawn as SVG built element by element (no chart library, no markup
// from strings), the hot spots, the scheduled report packs (downloaded with the token as a
// header, saved from a blob: URL) and the knowledge base panel (search, open, edit, its
// history). Every read carries the page's token as a bearer header; every failure is said
// in the page. No library, no build step.
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
      title: "联合分析与风险预警", back: "← 坐席监控", alerts: "风险预警", period: "统计周期",
      p_24h: "近24小时", p_7d: "近7天", p_30d: "近30天", p_month: "本月", from: "从", to: "到", show: "查询",
      summary: "概况", total: "共 {n} 件", by_category: "按类别", by_day: "按日", by_channel: "按渠道",
      by_division: "按地点（行政区划）", top_places: "高发地点", tags: "标签", repeat_callers: "重复来电",
      frequent_questions: "高频咨询", disputed: "管辖争议", hotspots: "热点（类别 × 地点）",
      reports: "定期报告（月交流、季会商、年总结）", knowledge: "知识库",
      shown_period: "{from} — {to}（北京时间）", updated: "更新于 {at}",
      col_category: "类别", col_division: "行政区划代码", col_count: "件数", col_tag: "标签", col_caller: "来电号码",
      col_example: "示例", col_bounced: "退回", col_refused: "拒收", col_redispatched: "重新派单", col_total: "合计",
      col_tickets: "工单", col_channel: "渠道", none: "无", more_tickets: "等 {n} 件",
      kind_surge: "突增", kind_cue: "紧急线索", alert_count: "{n} 件（基线 {b}）", alert_window: "{m} 分钟内",
      alert_first: "首件 {at}", alert_raised: "预警于 {at}", no_alerts: "暂无风险预警",
      report_monthly: "月交流", report_quarterly: "季会商", report_yearly: "年总结", report_annual: "年总结",
      download: "下载", downloading: "下载中…", save_file: "保存 {name}", written_at: "生成于 {at}",
      kb_search: "搜索", kb_entry: "条目", kb_question: "问题", kb_answer: "答复口径", kb_category: "类别",
      kb_platform: "平台", kb_valid_from: "生效", kb_valid_to: "失效", kb_source: "来源", kb_ivr_key: "IVR 按键",
      kb_ivr_label: "IVR 播报", kb_shareable: "可共享给对方平台", kb_save: "保存", kb_history: "修改记录",
      kb_open: "打开", kb_version: "版本 {v}", kb_score: "相关度 {s}", kb_no_results: "没有找到相关条目",
      kb_too_short: "请至少输入 2 个字", kb_saved: "已保存，版本 {v}", kb_shared: "可共享", kb_by: "{by} 于 {at}",
      kb_placeholder: "搜索问题或答复",
      err_401: "登录已失效：请从坐席监控页重新打开本页（{what}）",
      err_403: "无权查看（需要主管或管理员令牌）：{what}",
      err_404: "找不到：{what}", err_409: "保存冲突：该条目已被他人修改，请重新打开后再改（{message}）",
      err_422: "输入有误：{message}", err_5xx: "服务器暂时不可用（{status}），请稍后重试：{what}",
      err_network: "网络中断，请稍后重试：{what}", err_other: "失败（{status}）：{what} {message}",
      what_summary: "统计概况", what_hotspots: "热点", what_alerts: "风险预警", what_reports: "定期报告",
      what_report: "报告 {name}", what_search: "知识库搜索", what_entry: "知识库条目", what_history: "修改记录",
      what_save: "保存条目", sep: "；",
    },
    en: {
      title: "Joint analysis and early warning", back: "← Supervisor dashboard", alerts: "Risk alerts",
      period: "Period", p_24h: "last 24 h", p_7d: "7 days", p_30d: "30 days", p_month: "this month", from: "From",
      to: "To", show: "Show", summary: "Summary", total: "{n} in all", by_category: "By category",
      by_day: "By day", by_channel: "By channel", by_division: "By place (division code)",
      top_places: "Top places", tags: "Tags", repeat_callers: "Repeat callers",
      frequent_questions: "Frequent questions", disputed: "Disputed matters (jurisdiction)",
      hotspots: "Hot spots (category × place)", reports: "Report packs (monthly, quarterly, yearly)",
      knowledge: "Knowledge base", shown_period: "{from} — {to} (Beijing time)", updated: "updated {at}",
      col_category: "Category", col_division: "Division code", col_count: "Count", col_tag: "Tag",
      col_caller: "Caller", col_example: "Example", col_bounced: "Bounced", col_refused: "Refused",
      col_redispatched: "Re-dispatched", col_total: "Total", col_tickets: "Tickets", col_channel: "Channel",
      none: "none", more_tickets: "and {n} more",
      kind_surge: "surge", kind_cue: "emergency cue", alert_count: "{n} (baseline {b})", alert_window: "within {m} min",
      alert_first: "first {at}", alert_raised: "raised {at}", no_alerts: "no risk alerts",
      report_monthly: "monthly exchange", report_quarterly: "quarterly consultation", report_yearly: "yearly review",
      report_annual: "yearly review", download: "Download", downloading: "downloading…", save_file: "Save {name}",
      written_at: "written {at}",
      kb_search: "Search", kb_entry: "Entry", kb_question: "Question", kb_answer: "Answer", kb_category: "Category",
      kb_platform: "Platform", kb_valid_from: "Valid from", kb_valid_to: "Valid to", kb_source: "Source",
      kb_ivr_key: "IVR key", kb_ivr_label: "IVR label", kb_shareable: "Shareable with the other platform",
      kb_save: "Save", kb_history: "History", kb_open: "Open", kb_version: "version {v}", kb_score: "score {s}",
      kb_no_results: "no matching entries", kb_too_short: "type at least 2 characters", kb_saved: "saved, version {v}",
      kb_shared: "shareable", kb_by: "{by} at {at}", kb_placeholder: "search questions or answers",
      err_401: "your token is no longer valid: reopen this page from the dashboard ({what})",
      err_403: "not allowed (a supervisor or admin token is needed): {what}",
      err_404: "not found: {what}", err_409: "conflict: someone else changed this entry; reopen it first ({message})",
      err_422: "bad input: {message}", err_5xx: "the server is unavailable ({status}), try again later: {what}",
      err_network: "network error, try again later: {what}", err_other: "failed ({status}): {what} {message}",
      what_summary: "summary", what_hotspots: "hot spots", what_alerts: "risk alerts", what_reports: "report packs",
      what_report: "report {name}", what_search: "knowledge search", what_entry: "knowledge entry",
      what_history: "history", what_save: "saving the entry", sep: "; ",
    },
  };
  const ALERTS_EVERY_MS = 15000, ALERTS_SINCE_S = 86400, DAY_S = 86400;
  const SVG = "http://www.w3.org/2000/svg";
  let lang = localStorage.getItem("hl-lang") || "zh";
  const state = {
    period: null, // {from, to}: epoch seconds
    summary: null, hotspots: null, alerts: null, alertsAt: 0, reports: null,
    errors: {}, // what -> {status, message, vars}: the reads that failed, said in the message bar
    results: null, entry: null, history: null, kbNote: null, // kbNote: {key, vars, error}
    downloads: {}, // report name -> {url} | {busy: true}
  };
  let summaryAsk = 0, searchAsk = 0;

  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.zh[key] || key;
    for (const [k, v] of Object.entries(vars || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  };
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  };
  const svgEl = (tag, attrs, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  };
  const when = (seconds, withTime) => new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", year: withTime ? undefined : "numeric", month: "2-digit", day: "2-digit",
    hour: withTime ? "2-digit" : undefined, minute: withTime ? "2-digit" : undefined,
  }).format(new Date(seconds * 1000));
  const beijingDay = (seconds) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" })
    .format(new Date(seconds * 1000)); // YYYY-MM-DD
  const dayStart = (day) => Date.parse(day + "T00:00:00+08:00") / 1000;
  const nowS = () => Date.now() / 1000;

  // --- the server ----------------------------------------------------------------------

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, message: String((err && err.message) || err) };
    }
    const data = await resp.json().catch(() => null);
    if (resp.ok && data) return { ok: true, status: resp.status, data };
    const error = (data && data.error) || {};
    return { ok: false, status: resp.ok ? 502 : resp.status, message: error.message || "" };
  }

  function errorText(answer, what) {
    const s = answer.status;
    const key = s === 0 ? "err_network" : [401, 403, 404, 409, 422].includes(s) ? "err_" + s
      : s >= 500 ? "err_5xx" : "err_other";
    return t(key, { status: s, message: answer.message || "", what: t(what.key, what.vars) });
  }

  function failed(id, answer, what) { state.errors[id] = { answer, what }; }
  function cleared(id) { delete state.errors[id]; }

  function renderMessage() {
    const texts = Object.values(state.errors).map((e) => errorText(e.answer, e.what));
    $("message").hidden = !texts.length;
    $("message").textContent = texts.join(t("sep"));
  }

  // --- the period --------------------------------------------------------------------

  function preset(name) {
    const now = nowS();
    const from = name === "24h" ? now - DAY_S : name === "7d" ? now - 7 * DAY_S : name === "30d" ? now - 30 * DAY_S
      : dayStart(beijingDay(now).slice(0, 8) + "01");
    choose(Math.floor(from), Math.ceil(now));
  }

  function choose(from, to) {
    state.period = { from, to };
    $("p-from").value = beijingDay(from);
    $("p-to").value = beijingDay(Math.max(from, to - 1));
    loadPeriod();
  }

  async function loadPeriod() {
    const { from, to } = state.period, ask = ++summaryAsk;
    const q = "from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    renderPeriod();
    const [summary, hotspots] = await Promise.all([api("GET", "/api/analysis/summary?" + q),
      api("GET", "/api/analysis/hotspots?" + q + "&by=" + encodeURIComponent("category,division_code"))]);
    if (ask !== summaryAsk) return; // a later period was chosen meanwhile
    state.summary = summary.ok ? summary.data : null;
    if (summary.ok) cleared("summary"); else failed("summary", summary, { key: "what_summary" });
    state.hotspots = hotspots.ok ? hotspots.data : null;
    if (hotspots.ok) cleared("hotspots"); else failed("hotspots", hotspots, { key: "what_hotspots" });
    renderSummary();
    renderHotspots();
    renderMessage();
  }

  function renderPeriod() {
    const p = state.period;
    $("period-shown").textContent = p ? t("shown_period", { from: when(p.from, true), to: when(p.to, true) }) : "";
  }

  // --- the charts --------------------------------------------------------------------

  function svgBox(w, h, cls) {
    const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart " + cls, role: "img" });
    return svg;
  }

  function barChart(rows, label, kind) { // horizontal bars, the largest first
    const shown = rows.slice(0, 12), W = 600, ROW = 22, H = Math.max(1, shown.length) * ROW + 4, L = 150;
    const svg = svgBox(W, H, "bars");
    const max = Math.max(1, ...shown.map((r) => r.count));
    shown.forEach((r, i) => {
      const y = 2 + i * ROW, w = ((W - L - 50) * r.count) / max;
      const bar = svgEl("g", { "data-bar": label(r), "data-kind": kind });
      bar.append(svgEl("text", { x: L - 6, y: y + 15, "text-anchor": "end" }, label(r)),
        svgEl("rect", { x: L, y: y + 3, width: Math.max(1, w).toFixed(1), height: ROW - 6, class: "bar" }),
        svgEl("text", { x: L + w + 4, y: y + 15 }, r.count));
      svg.append(bar);
    });
    return svg;
  }

  function dayChart(days) { // a bar per day and a line over them
    const W = 600, H = 140, P = 24, n = Math.max(1, days.length), step = (W - 2 * P) / n;
    const svg = svgBox(W, H, "days");
    const max = Math.max(1, ...days.map((d) => d.count));
    const y = (c) => H - P - ((H - 2 * P) * c) / max;
    svg.append(svgEl("line", { class: "grid", x1: P, x2: W - P, y1: H - P, y2: H - P }),
      svgEl("text", { x: 2, y: y(max) + 4 }, max), svgEl("text", { x: 2, y: H - P }, 0));
    const points = [];
    days.forEach((d, i) => {
      const x = P + i * step;
      points.push(`${(x + step / 2).toFixed(1)},${y(d.count).toFixed(1)}`);
      svg.append(svgEl("rect", { "data-day": d.day, x: (x + step * 0.15).toFixed(1), y: y(d.count).toFixed(1),
        width: (step * 0.7).toFixed(1), height: (H - P - y(d.count)).toFixed(1), class: "bar" },
      ));
    });
    if (points.length) svg.append(svgEl("polyline", { class: "trend", points: points.join(" ") }));
    if (days.length) {
      svg.append(svgEl("text", { x: P, y: H - 6 }, days[0].day),
        svgEl("text", { x: W - P, y: H - 6, "text-anchor": "end" }, days[days.length - 1].day));
    }
    return svg;
  }

  function channelChart(channels) { // one bar split by channel, with its legend
    const W = 600, H = 30, total = channels.reduce((n, c) => n + c.count, 0) || 1;
    const svg = svgBox(W, H, "split");
    let x = 0;
    channels.forEach((c, i) => {
      const w = (W * c.count) / total;
      svg.append(svgEl("rect", { "data-channel": c.channel, x: x.toFixed(1), y: 2, width: w.toFixed(1), height: H - 4,
        class: "part c" + (i % 6) }));
      x += w;
    });
    const legend = el("p", { class: "legend" }, ...channels.map((c, i) => el("span", { class: "key c" + (i % 6) },
      `■ ${c.channel} ${c.count} (${Math.round((100 * c.count) / total)}%) `)));
    return [svg, legend];
  }

  // --- the tables --------------------------------------------------------------------

  function table(id, columns, rows, cells) {
    const head = el("tr", {}, ...columns.map((c) => el("th", {}, t(c))));
    const body = rows.map((r) => el("tr", {}, ...cells(r).map((v) => el("td", {}, v === null || v === undefined ? "" : v))));
    $(id).replaceChildren(head, ...(body.length ? body : [el("tr", {}, el("td", { colspan: columns.length }, t("none")))]));
  }

  function tickets(ids) {
    const list = ids || [];
    return list.slice(0, 10).join("、") + (list.length > 10 ? " " + t("more_tickets", { n: list.length - 10 }) : "");
  }

  function renderSummary() {
    const s = state.summary;
    const list = (k) => (s && Array.isArray(s[k]) ? s[k] : []);
    $("total").textContent = s ? t("total", { n: s.total }) : "";
    $("chart-category").replaceChildren(s ? barChart(list("by_category"), (r) => r.category || "–", "category") : "");
    $("chart-day").replaceChildren(s ? dayChart(list("by_day")) : "");
    $("chart-channel").replaceChildren(...(s ? channelChart(list("by_channel")) : []));
    table("t-division", ["col_division", "col_count"], list("by_division"), (r) => [r.division_code, r.count]);
    table("t-places", ["col_division", "col_count"], list("top_places"), (r) => [r.division_code, r.count]);
    table("t-tags", ["col_tag", "col_count"], list("tags"), (r) => [r.tag, r.count]);
    table("t-repeat", ["col_caller", "col_count"], list("repeat_callers"), (r) => [r.caller, r.count]);
    table("t-questions", ["col_category", "col_count", "col_example"], list("frequent_questions"),
      (r) => [r.category, r.count, r.example]);
    table("t-disputed", ["col_category", "col_bounced", "col_refused", "col_redispatched", "col_total"],
      list("disputed"), (r) => [r.category, r.bounced, r.refused, r.redispatched, r.total]);
  }

  function renderHotspots() {
    const groups = (state.hotspots && state.hotspots.groups) || [];
    table("hotspots", ["col_category", "col_division", "col_count", "col_tickets"], groups,
      (g) => [g.category, g.division_code, g.count, tickets(g.ticket_ids)]);
  }

  // --- the early warnings (风险预警) -------------------------------------------------------

  async function loadAlerts() {
    const answer = await api("GET", "/api/analysis/alerts?since=" + encodeURIComponent(Math.floor(nowS() - ALERTS_SINCE_S)));
    if (answer.ok) {
      state.alerts = (answer.data.alerts || []).slice().sort((a, b) => b.raised_at - a.raised_at);
      state.alertsAt = nowS();
      cleared("alerts");
    } else {
      failed("alerts", answer, { key: "what_alerts" }); // what was listed stays
    }
    renderAlerts();
    renderMessage();
  }

  function renderAlerts() {
    const alerts = state.alerts || [];
    $("alerts-when").textContent = state.alertsAt ? t("updated", { at: when(state.alertsAt, true) }) : "";
    $("alerts-note").hidden = !(state.alerts && !alerts.length);
    $("alerts-note").textContent = t("no_alerts");
    $("alerts").replaceChildren(...alerts.map((a) => el("li", { "data-alert-id": a.id, "data-kind": a.kind },
      el("b", {}, t("kind_" + a.kind)), " ", a.category || "", a.division_code ? " · " + a.division_code : "",
      " · " + t("alert_count", { n: a.count, b: a.baseline === null || a.baseline === undefined ? "–" : a.baseline }),
      a.window_s ? " · " + t("alert_window", { m: Math.round(a.window_s / 60) }) : "",
      a.first_at ? " · " + t("alert_first", { at: when(a.first_at, true) }) : "",
      " · " + t("alert_raised", { at: when(a.raised_at, true) }),
      a.cue ? el("span", { class: "cue" }, " · " + a.cue) : "",
      (a.ticket_ids || []).length ? el("span", { class: "muted" }, " · " + tickets(a.ticket_ids)) : "")));
  }

  // --- the report packs --------------------------------------------------------------

  async function loadReports() {
    const answer = await api("GET", "/api/analysis/reports");
    state.reports = answer.ok ? answer.data.reports || [] : state.reports;
    if (answer.ok) cleared("reports"); else failed("reports", answer, { key: "what_reports" });
    renderReports();
    renderMessage();
  }

  function renderReports() {
    const reports = state.reports || [];
    $("reports").replaceChildren(...(reports.length ? reports.map((r) => {
      const got = state.downloads[r.name] || {};
      const item = el("li", { "data-report": r.name }, el("b", {}, t("report_" + r.kind) === "report_" + r.kind
        ? r.kind : t("report_" + r.kind)), " " + r.name + " · " + r.period,
      " · " + (r.formats || []).join(", "), r.written_at ? " · " + t("written_at", { at: when(r.written_at, true) }) : "", " ");
      if (got.url) {
        item.append(el("a", { href: got.url, download: got.file, "data-saved": r.name }, t("save_file", { name: got.file })));
      } else {
        const button = el("button", { type: "button", "data-download": r.name }, got.busy ? t("downloading") : t("download"));
        button.disabled = !!got.busy;
        button.addEventListener("click", () => download(r.name));
        item.append(button);
      }
      return item;
    }) : [el("li", {}, t("none"))]));
  }

  function fileName(resp, name) { // the server's name for it (Content-Disposition), else the report's
    const header = (resp.headers && resp.headers.get && resp.headers.get("Content-Disposition")) || "";
    const found = /filename="?([^";]+)"?/.exec(header);
    return found ? found[1] : name;
  }

  async function download(name) { // with the token as a header: a blob, saved from a blob: URL
    state.downloads[name] = { busy: true };
    renderReports();
    const what = { key: "what_report", vars: { name } };
    let resp;
    try {
      resp = await fetch("/api/analysis/reports/" + encodeURIComponent(name),
        { method: "GET", headers: { Authorization: "Bearer " + token } });
    } catch (err) {
      resp = null;
      failed("report", { status: 0, message: String(err) }, what);
    }
    if (resp && resp.ok) {
      const url = URL.createObjectURL(await resp.blob());
      const file = fileName(resp, name);
      state.downloads[name] = { url, file };
      cleared("report");
      renderReports();
      const link = [...document.querySelectorAll("[data-saved]")].find((a) => a.getAttribute("data-saved") === name);
      if (link && link.click) link.click(); // the browser saves it; the link stays to save it again
    } else {
      if (resp) {
        const data = await resp.json().catch(() => null);
        failed("report", { status: resp.status, message: ((data && data.error) || {}).message || "" }, what);
      }
      delete state.downloads[name];
      renderReports();
    }
    renderMessage();
  }

  // --- the knowledge base ------------------------------------------------------------

  const KB_FIELDS = [["kb-question", "question"], ["kb-answer", "answer"], ["kb-category", "category"],
    ["kb-platform", "platform"], ["kb-valid-from", "valid_from"], ["kb-valid-to", "valid_to"], ["kb-source", "source"],
    ["kb-ivr-key", "ivr_key"], ["kb-ivr-label", "ivr_label"]];
  const kbSay = (key, vars, error) => { state.kbNote = key || error ? { key, vars, error } : null; renderKnowledge(); };
  const kbFail = (answer, what) => kbSay("", {}, errorText(answer, { key: what }));
  const snippet = (text, n) => { const s = String(text || ""); return s.length > n ? s.slice(0, n) + "…" : s; };

  async function search() {
    const q = $("kb-q").value.trim().slice(0, 200);
    if (q.length < 2) { state.results = null; kbSay("kb_too_short"); return; }
    const ask = ++searchAsk;
    const answer = await api("GET", "/api/knowledge/search?q=" + encodeURIComponent(q) + "&limit=20");
    if (ask !== searchAsk) return;
    if (!answer.ok) { kbFail(answer, "what_search"); return; }
    state.results = answer.data.results || [];
    kbSay(state.results.length ? "" : "kb_no_results");
  }

  async function openEntry(id) {
    const path = "/api/knowledge/entries/" + encodeURIComponent(id);
    const [entry, history] = await Promise.all([api("GET", path), api("GET", path + "/history")]);
    if (!entry.ok) { kbFail(entry, "what_entry"); return; }
    state.entry = entry.data;
    for (const [input, field] of KB_FIELDS) $(input).value = entry.data[field] === null || entry.data[field] === undefined
      ? "" : String(entry.data[field]);
    $("kb-shareable").checked = !!entry.data.shareable;
    state.history = history.ok ? history.data.history || [] : null;
    if (history.ok) kbSay(""); else kbFail(history, "what_history");
  }

  async function save() {
    const entry = state.entry;
    if (!entry) return;
    const body = {};
    for (const [input, field] of KB_FIELDS) {
      const typed = $(input).value.trim(), was = entry[field];
      // a field left as it was goes back as the server gave it (a number stays a number);
      // only the validity dates are null when empty (open), every other text is ""
      body[field] = was !== null && was !== undefined && typed === String(was) ? was
        : typed === "" && (field === "valid_from" || field === "valid_to") ? null : typed;
    }
    body.shareable = $("kb-shareable").checked;
    body.expected_version = entry.version;  // another editor's save in between is a 409, not lost
    const answer = await api("PUT", "/api/knowledge/entries/" + encodeURIComponent(entry.id), body);
    if (!answer.ok) { kbFail(answer, "what_save"); return; }
    state.entry = answer.data;
    kbSay("kb_saved", { v: answer.data.version });
    const history = await api("GET", "/api/knowledge/entries/" + encodeURIComponent(entry.id) + "/history");
    if (history.ok) { state.history = history.data.history || []; renderKnowledge(); }
  }

  function renderKnowledge() {
    const note = state.kbNote;
    $("kb-message").hidden = !note;
    $("kb-message").className = "note" + (note && note.error ? " kb-error" : "");
    $("kb-message").textContent = note ? note.error || t(note.key, note.vars) : "";
    $("kb-q").setAttribute("placeholder", t("kb_placeholder"));
    $("kb-results").replaceChildren(...(state.results || []).map((r) => {
      const open = el("button", { type: "button", "data-open": r.id }, t("kb_open"));
      open.addEventListener("click", () => openEntry(r.id));
      return el("li", { "data-entry": r.id }, el("b", {}, r.question), " ",
        el("span", { class: "muted" }, [r.category, r.platform, t("kb_version", { v: r.version }),
          r.shareable ? t("kb_shared") : "", typeof r.score === "number" ? t("kb_score", { s: r.score.toFixed(2) }) : ""]
          .filter(Boolean).join(" · ")), " ", open, el("p", { class: "kb-snippet" }, snippet(r.answer, 120)));
    }));
    const entry = state.entry;
    $("kb-form").hidden = !entry;
    $("kb-id").textContent = entry ? entry.id : "";
    $("kb-version").textContent = entry ? t("kb_version", { v: entry.version }) : "";
    $("kb-history").replaceChildren(...(state.history || []).map((h) => el("li", { "data-version": h.version },
      t("kb_version", { v: h.version }) + " · " + t("kb_by", { by: h.by || "–", at: h.at ? when(h.at, true) : "–" }) +
      " · " + changesText(h.changes))));
  }

  function changesText(changes) {
    if (!changes) return "";
    if (Array.isArray(changes)) return changes.join("、");
    if (typeof changes === "object") return Object.keys(changes).join("、");
    return String(changes);
  }

  // --- the page ----------------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title") + " · hotline-link";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = lang === "zh" ? "English" : "中文";
    renderPeriod();
    renderAlerts();
    renderSummary();
    renderHotspots();
    renderReports();
    renderKnowledge();
    renderMessage();
  }

  $("back-link").setAttribute("href", "/supervisor?token=" + encodeURIComponent(token));
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("hl-lang", lang);
    applyLanguage();
  });
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => preset(button.dataset.preset));
  }
  $("period").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = dayStart($("p-from").value), to = dayStart($("p-to").value) + DAY_S; // whole Beijing days
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return;
    choose(from, to);
  });
  $("kb-search").addEventListener("submit", (event) => { event.preventDefault(); search(); });
  $("kb-form").addEventListener("submit", (event) => { event.preventDefault(); save(); });
  applyLanguage();
  preset("7d");
  loadAlerts();
  loadReports();
  setInterval(loadAlerts, ALERTS_EVERY_MS);
})();
