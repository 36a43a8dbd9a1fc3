// The agent's desk page (坐席工作台): the seat, the browser softphone (JsSIP, for a site's
// webrtc_agents; any other agent's desk phone carries the audio and this page controls the
// call), the screen pop, the ticket's fields, its recordings and the one-click actions, and
// the platform's callback queue (回电, re-read every 10 s), and knowledge base entries
// suggested while the agent types the summary or a search. The call's state
// comes from the agent's WebSocket; after each (re)connect the page re-reads the call and
// the screen, so a dropped connection loses nothing. No library but JsSIP, no build step.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  if (params.has("token")) { // out of the address bar (history, screenshots, a shared link)
    params.delete("token");
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
  }
  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("desk-config").textContent);
  const agent = config.agent;
  const other = config.other_platform;
  const webrtc = config.softphone.mode === "webrtc";

  const I18N = {
    zh: {
      title: "坐席工作台", agent_label: "坐席 {agent} · {platform}",
      platform_12345: "12345 政务服务热线", platform_110: "110 报警服务台",
      seat_offline: "离线", seat_idle: "空闲", seat_ringing: "振铃", seat_talking: "通话中", seat_wrap_up: "话后整理",
      seat_paused: "暂停", pause_reason: "暂停原因", reason_break: "小休", reason_training: "培训",
      reason_meeting: "会议", reason_meal: "用餐", reason_other: "其他", ready: "就绪", pause: "暂停",
      connecting: "连接中…", live: "已连接", offline_conn: "已断开，重连中…",
      softphone: "软电话", sip_registered: "已注册", sip_unregistered: "未注册", sip_failed: "注册失败",
      "sip_desk-phone": "座席话机",
      desk_phone_note: "您使用座席话机：接听、挂断和静音请在话机上操作；本页负责转接、三方通话和工单。",
      answer: "接听", hangup: "挂断", mute: "静音", unmute: "取消静音", hold: "保持", unhold: "恢复通话",
      keypad: "拨号盘", call: "当前通话", call_idle: "无通话", call_ringing: "来电振铃", call_talking: "通话中",
      call_held: "已保持", call_consulting: "咨询中", call_conference: "三方通话中",
      transfer: "转{other}", consult: "咨询转接", consult_complete: "完成转接", consult_cancel: "取消咨询",
      conference: "三方通话", conference_leave: "退出三方",
      screen: "来电弹屏", caller: "来电号码", ticket: "工单", recommendation: "系统建议",
      open_tickets: "该号码未办结工单", recent_calls: "该号码近期来电", none: "无", unanswered: "未接听",
      from_platform: "由{platform}转来", source_ticket: "原单号 {id}", emergency: "紧急",
      restricted: "涉密（不共享）", confidence: "置信度 {pct}%",
      ticket_fields: "工单信息", category: "类别", summary: "地点和情况", division_code: "行政区划代码",
      save: "保存工单", push: "系统推送至{other}", unit: "处置单位", choose_unit: "请选择", dispatch: "派单",
      tags: "专题标签（逗号分隔）", severity: "事件等级", severity_normal: "一般", severity_major: "重大（派单时上报领导）", major: "重大",
      dispatch_role: "承办方式", role_lead: "主办", role_assisting: "协办",
      recordings: "通话录音", get_recording: "获取录音", download: "下载",
      callbacks: "回电队列", callback_count: "{n} 条",
      callbacks_note: "系统在您空闲时拨打您的话机进行回电，接听后弹屏显示工单。",
      cb_stage_pending: "等待回电", cb_stage_offering: "正在分配坐席", cb_stage_agent_ringing: "坐席振铃",
      cb_stage_connecting: "正在接通市民", cb_stage_retry: "等待重拨",
      cb_source_ivr: "IVR", cb_source_web: "网上", cb_source_missed: "漏接",
      cb_attempts: "已拨 {n}/{max} 次", cb_since: "{at} 起", cb_deadline: "应于 {at} 前回电", cb_yours: "正在呼叫您",
      help: "快捷键：F2 接听 · F4 挂断 · F6 转{other} · F7 咨询转接 · F8 三方通话",
      done_saved: "工单已保存", done_pushed: "已推送至{other}（排队发送）", done_dispatched: "已派单：{unit}",
      done_dispatched_assisting: "已派协办单位：{unit}",
      done_transferred: "已转至{other}，对方振铃中", done_consulting: "正在咨询{other}，来电人在等待",
      done_consult_completed: "已完成转接", done_consult_cancelled: "已取消咨询，来电人仍在您这里",
      done_conference: "已发起三方通话", done_conference_left: "已退出三方通话，来电人与{other}继续通话",
      done_ready: "已就绪", done_paused: "已暂停：{reason}",
      err_target_busy: "对方忙，来电已回到您这里", err_no_answer: "对方无人接听，来电已回到您这里",
      err_target_unreachable: "对方线路不通，来电已回到您这里", err_caller_gone: "来电人已挂机",
      err_target_left: "对方已挂断，来电已回到您这里", err_consult_not_answered: "对方尚未接听，请稍候或取消咨询",
      err_no_consult: "当前没有进行中的咨询",
      err_caller_hung_up: "来电人已挂机", err_not_your_call: "这不是您的通话",
      err_operation_in_progress: "该通话已有操作在进行，请稍候",
      err_caller_would_be_alone: "对方尚未加入，请先陪来电人等待",
      err_conference_exists: "正在三方通话：请退出三方，而不是再转接", err_not_in_conference: "您不在三方通话中",
      err_call_not_found: "当前没有通话", err_ticket_not_found: "找不到该工单",
      err_forbidden: "无权执行此操作", err_unauthorized: "登录已失效，请重新打开工作台",
      err_push_refused: "该工单不能推送（涉密或受限）", err_same_platform: "来电已在该平台",
      err_unknown_target: "号码簿中没有该目标", err_asterisk_refused: "交换机拒绝了该操作，请重试",
      err_asterisk_error: "交换机暂时不可用，请重试", err_redis_unavailable: "系统暂时不可用，请重试",
      err_unknown_unit: "没有该处置单位", err_already_dispatched: "该工单已派单",
      err_no_lead: "尚无主办单位：请先派主办单位，再派协办单位", err_recording_not_found: "找不到该录音",
      err_bad_request: "输入有误：{message}", err_network: "网络中断，请重试",
      err_sip_registration_failed: "软电话注册失败", err_softphone_missing: "软电话组件未能加载",
      err_sip_error: "软电话操作失败：{message}", err_other: "操作失败（{code}）{message}",
      kb_title: "知识库建议", kb_placeholder: "搜索知识库（至少 2 个字）", kb_unavailable: "知识库暂时不可用",
      kb_none: "没有相关条目", kb_version: "版本 {v}", kb_from_peer: "对方平台共享", kb_expand: "展开", kb_collapse: "收起",
    },
    en: {
      title: "Agent desk", agent_label: "Agent {agent} · {platform}",
      platform_12345: "12345 government hotline", platform_110: "110 police",
      seat_offline: "offline", seat_idle: "idle", seat_ringing: "ringing", seat_talking: "talking",
      seat_wrap_up: "wrap-up", seat_paused: "paused", pause_reason: "Pause reason", reason_break: "Break",
      reason_training: "Training", reason_meeting: "Meeting", reason_meal: "Meal", reason_other: "Other",
      ready: "Ready", pause: "Pause",
      connecting: "connecting…", live: "connected", offline_conn: "disconnected, retrying…",
      softphone: "Softphone", sip_registered: "registered", sip_unregistered: "not registered",
      sip_failed: "registration failed", "sip_desk-phone": "desk phone",
      desk_phone_note: "You use your desk phone: answer, hang up and mute on the phone; this page transfers, "
        + "joins three-way calls and keeps the ticket.",
      answer: "Answer", hangup: "Hang up", mute: "Mute", unmute: "Unmute", hold: "Hold", unhold: "Resume",
      keypad: "Keypad", call: "Call", call_idle: "no call", call_ringing: "ringing", call_talking: "talking",
      call_held: "on hold", call_consulting: "consulting", call_conference: "three-way call",
      transfer: "Transfer to {other}", consult: "Consult", consult_complete: "Complete transfer",
      consult_cancel: "Cancel consult", conference: "Three-way call", conference_leave: "Leave three-way call",
      screen: "Screen pop", caller: "Caller", ticket: "Ticket", recommendation: "Recommendation",
      open_tickets: "Open tickets of this caller", recent_calls: "Recent calls from this number", none: "none",
      unanswered: "unanswered", from_platform: "handed over by {platform}", source_ticket: "source ticket {id}",
      emergency: "Emergency", restricted: "Restricted (not shared)", confidence: "confidence {pct}%",
      ticket_fields: "Ticket", category: "Category", summary: "Location and situation",
      division_code: "Division code", save: "Save ticket", push: "Push to {other}", unit: "Handling unit",
      choose_unit: "choose", dispatch: "Dispatch",
      tags: "Topic tags (comma separated)", severity: "Severity", severity_normal: "normal", severity_major: "major (the leadership is told on dispatch)",
      major: "major", dispatch_role: "Role", role_lead: "lead", role_assisting: "assisting",
      recordings: "Recordings", get_recording: "Get recording", download: "Download",
      callbacks: "Callback queue", callback_count: "{n} open",
      callbacks_note: "The server rings your phone for a callback when you are free; once you answer, the screen "
        + "pop shows the ticket.",
      cb_stage_pending: "waiting", cb_stage_offering: "finding an agent", cb_stage_agent_ringing: "agent's phone ringing",
      cb_stage_connecting: "calling the citizen", cb_stage_retry: "waiting to retry",
      cb_source_ivr: "IVR", cb_source_web: "web", cb_source_missed: "missed call",
      cb_attempts: "tried {n}/{max}", cb_since: "since {at}", cb_deadline: "call back by {at}", cb_yours: "ringing you",
      help: "Shortcuts: F2 answer · F4 hang up · F6 transfer to {other} · F7 consult · F8 three-way call",
      done_saved: "ticket saved", done_pushed: "pushed to {other} (queued)", done_dispatched: "dispatched to {unit}",
      done_dispatched_assisting: "assisting unit dispatched: {unit}",
      done_transferred: "transferred to {other}: ringing there",
      done_consulting: "consulting {other}; the caller waits", done_consult_completed: "transfer completed",
      done_consult_cancelled: "consult cancelled: the caller is still with you",
      done_conference: "three-way call started", done_conference_left: "you left: the caller stays with {other}",
      done_ready: "ready", done_paused: "paused: {reason}",
      err_target_busy: "target busy: the caller is back with you",
      err_no_answer: "no answer: the caller is back with you",
      err_target_unreachable: "the other platform cannot be reached: the caller is back with you",
      err_target_left: "the other side hung up: the caller is back with you",
      err_consult_not_answered: "the other side has not answered yet: wait, or cancel the consult",
      err_no_consult: "no consult under way",
      err_caller_gone: "the caller hung up", err_caller_hung_up: "the caller hung up",
      err_not_your_call: "this is not your call", err_operation_in_progress: "another action on this call is under way",
      err_caller_would_be_alone: "the other party has not joined yet: stay with the caller",
      err_conference_exists: "this is a three-way call: leave it instead of transferring",
      err_not_in_conference: "you are not in the three-way call",
      err_call_not_found: "no call", err_ticket_not_found: "no such ticket", err_forbidden: "not allowed",
      err_unauthorized: "your token is no longer valid: reopen the desk",
      err_push_refused: "this ticket may not be pushed (restricted)",
      err_same_platform: "the call is already on that platform",
      err_unknown_target: "the target is not in the directory",
      err_asterisk_refused: "the phone system refused: try again",
      err_asterisk_error: "the phone system is unavailable: try again",
      err_redis_unavailable: "the system is unavailable: try again", err_unknown_unit: "no such unit",
      err_already_dispatched: "the ticket is already dispatched", err_bad_request: "bad input: {message}",
      err_no_lead: "no lead unit holds the case: dispatch the lead first, then the assisting units",
      err_recording_not_found: "no such recording",
      err_network: "network error: try again", err_sip_registration_failed: "the softphone could not register",
      err_softphone_missing: "the softphone did not load", err_sip_error: "softphone: {message}",
      err_other: "failed ({code}) {message}",
      kb_title: "Knowledge suggestions", kb_placeholder: "search the knowledge base (2 characters or more)",
      kb_unavailable: "knowledge base unavailable for now", kb_none: "no matching entries", kb_version: "version {v}", kb_from_peer: "shared by the other platform",
      kb_expand: "more", kb_collapse: "less",
    },
  };
  // the actions that call the server: one at a time (a double click must not transfer twice)
  const API_ACTIONS = new Set(["transfer", "consult", "consult-complete", "consult-cancel", "conference",
    "conference-leave", "save", "push", "dispatch", "ready", "pause"]);
  const SHORTCUTS = { F2: "answer", F4: "hangup", F6: "transfer", F7: "consult", F8: "conference" };
  const SEAT_STATES = ["offline", "idle", "ringing", "talking", "wrap_up", "paused"];
  const RING_CHECK_MS = 5000; // a ringing that ends without an event (answered elsewhere) is re-read
  const CALLBACKS_EVERY_MS = 10000; // the callback queue is re-read while the page is open
  const MAX_BACKOFF_MS = 30000;
  // knowledge suggestions: asked once typing pauses, for 2 characters or more, the 5 best
  const KB_DEBOUNCE_MS = 300, KB_MIN_CHARS = 2, KB_MAX_CHARS = 200, KB_LIMIT = 5, KB_SNIPPET = 80;

  let lang = localStorage.getItem("hl-lang") || "zh";
  const state = {
    seat: config.seat || "offline", seatReason: "", wrapUntil: 0,
    sip: webrtc ? "unregistered" : "desk-phone", session: null, answered: false, muted: false, held: false,
    call: null, // {call_id, caller, state: ringing|talking|consulting|conference, source_platform}
    ticket: null, // the ticket on screen; kept after the call for the after-call work
    screen: null, // GET /api/agents/{agent}/screen
    formShown: {}, units: [], proposed: [], // formShown: the form's fields as last filled from the ticket
    recordings: null, // the ticket's recordings: null unless the server gave them (403: not this agent's)
    recordingUrls: {}, // name: blob URL of a recording fetched with the token
    callbacks: null, // GET /api/callbacks: {pending, requests} of the agent's platform
    busy: "", error: null, notice: null, connected: false, ringCheckAt: 0,
    kb: { results: null, open: "", failed: false }, // knowledge suggestions; open: the entry shown whole
  };
  let kbTimer = null, kbAsk = 0;

  const t = (key, vars) => {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.zh[key] || key;
    for (const [k, v] of Object.entries({ other, ...(vars || {}) })) text = text.split("{" + k + "}").join(v);
    return text;
  };
  const known = (key) => key in I18N.zh;
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  };
  const when = (seconds) => new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).format(new Date(seconds * 1000));

  // --- what may be done now -------------------------------------------------------------

  function callState() {
    if (!state.call) return "idle";
    return state.call.state === "talking" && state.held ? "held" : state.call.state;
  }

  function applicable(action) {
    const now = callState();
    const live = (now === "talking" || now === "held") && !!state.call.call_id;
    const established = webrtc && !!state.session && state.answered;
    switch (action) {
      case "answer": return webrtc && !!state.session && !state.answered;
      case "hangup": return webrtc && !!state.session;
      case "mute": case "hold": case "dtmf": return established;
      case "transfer": case "consult": case "conference": return live && !!config.other_number;
      case "consult-complete": case "consult-cancel": return now === "consulting";
      case "conference-leave": return now === "conference";
      case "save": case "push": return !!state.ticket;
      case "dispatch": return !!state.ticket && !!$("dispatch-unit").value;
      case "recording": return !!state.ticket;
      case "ready": return ["paused", "wrap_up", "offline"].includes(state.seat);
      case "pause": return state.seat !== "paused";
      case "lang": return true;
      default: return false;
    }
  }

  const allowed = (action) => applicable(action) && !(state.busy && API_ACTIONS.has(action));

  // --- rendering -----------------------------------------------------------------------

  function errorText(error) {
    const key = "err_" + error.code;
    return known(key) ? t(key, { message: error.message || "" })
      : t("err_other", { code: error.code, message: error.message || "" });
  }

  function tag(text, cls) {
    return el("span", { class: "tag" + (cls ? " " + cls : "") }, text);
  }

  function renderScreen() {
    const call = state.call, ticket = state.ticket, screen = state.screen || {};
    const caller = (call && call.caller) || (screen.caller) || "";
    const from = (call && call.source_platform) || (ticket && ticket.source_platform) || "";
    $("screen-caller").replaceChildren(caller || t("none"),
      from ? " · " + t("from_platform", { platform: from }) : "");
    if (ticket) {
      $("screen-ticket").replaceChildren(el("b", {}, ticket.id),
        ticket.category ? " · " + ticket.category : "", ticket.summary ? " · " + ticket.summary : "",
        ticket.source_ticket ? " · " + t("source_ticket", { id: ticket.source_ticket }) : "",
        ticket.emergency ? tag(t("emergency")) : "", ticket.severity === "major" ? tag(t("major"), "major") : "",
        ticket.restricted ? tag(t("restricted"), "restricted") : "");
    } else {
      $("screen-ticket").replaceChildren(t("none"));
    }
    const advice = screen.recommendation;
    $("screen-recommendation").replaceChildren(...(advice ? [t("platform_" + advice.platform),
      advice.category ? " · " + advice.category : "",
      " · " + t("confidence", { pct: Math.round((advice.confidence || 0) * 100) }),
      advice.emergency ? tag(t("emergency")) : ""] : [t("none")]));
    const open = screen.open_tickets || [];
    $("screen-open-tickets").replaceChildren(...(open.length ? open.map((o) => el("li", { "data-ticket": o.id },
      `${o.id} · ${when(o.created_at)} · ${o.category || ""} ${o.summary || ""} (${o.status})`))
      : [el("li", {}, t("none"))]));
    const recent = screen.recent_calls || [];
    $("screen-recent-calls").replaceChildren(...(recent.length ? recent.map((c) => el("li", { "data-call": c.call_id },
      `${when(c.started_at)} · ${c.answered_by || t("unanswered")}`)) : [el("li", {}, t("none"))]));
  }

  const labelOf = (prefix, value) => (known(prefix + value) ? t(prefix + value) : value);

  function renderCallbacks() { // the platform's open callback requests, oldest first, numbers as the server masked them
    const queue = state.callbacks;
    $("callback-count").textContent = queue ? t("callback_count", { n: queue.pending }) : "";
    const items = (queue ? queue.requests : []).map((r) => el("li", { "data-callback": r.id, "data-stage": r.stage },
      el("b", {}, r.number), " · " + labelOf("cb_stage_", r.stage),
      " · " + (r.sources && r.sources.length ? r.sources : [r.source]).map((s) => labelOf("cb_source_", s)).join("、"),
      " · " + t("cb_attempts", { n: r.attempts, max: r.max_attempts }),
      " · " + t("cb_since", { at: when(r.created_at) }),
      r.deadline ? " · " + t("cb_deadline", { at: when(r.deadline) }) : "",
      r.ticket_id ? " · " + r.ticket_id : "",
      r.agent === agent ? tag(t("cb_yours"), "yours") : ""));
    $("callback-list").replaceChildren(...(items.length ? items : [el("li", {}, t("none"))]));
  }

  function renderKnowledge() { // the suggestions: question, a snippet; a click shows the whole answer
    const kb = state.kb;
    $("kb-q").setAttribute("placeholder", t("kb_placeholder"));
    $("kb-note").hidden = !kb.failed && !(kb.results && !kb.results.length);
    $("kb-note").textContent = kb.failed ? t("kb_unavailable") : t("kb_none");
    $("kb-list").replaceChildren(...(kb.results || []).map((r) => {
      const whole = kb.open === r.id, answer = String(r.answer || "");
      const toggle = el("button", { type: "button", class: "kb-toggle", "data-entry-toggle": r.id },
        t(whole ? "kb_collapse" : "kb_expand"));
      toggle.addEventListener("click", () => { kb.open = whole ? "" : r.id; renderKnowledge(); });
      return el("li", { "data-entry": r.id, class: whole ? "kb-open" : "" }, el("b", {}, r.question), " ",
        el("span", { class: "muted" }, [r.category, t("kb_version", { v: r.version }), r.from_peer ? t("kb_from_peer") : ""]
          .filter(Boolean).join(" · ")),
        " ", toggle,
        el("p", { class: "kb-answer" }, whole || answer.length <= KB_SNIPPET ? answer : answer.slice(0, KB_SNIPPET) + "…"));
    }));
  }

  function suggestSoon(id) { // one request once typing pauses, for what the field holds then
    clearTimeout(kbTimer);
    kbTimer = setTimeout(() => suggest($(id).value), KB_DEBOUNCE_MS);
  }

  async function suggest(typed) { // quiet: a failure is a muted note, never the desk's error
    const q = String(typed || "").trim().slice(0, KB_MAX_CHARS), ask = ++kbAsk;
    if (q.length < KB_MIN_CHARS) { state.kb = { results: null, open: "", failed: false }; renderKnowledge(); return; }
    // the other platform's shareable entries too (公安服务知识库 at 12345): 可查、可看
    const answer = await api("GET", "/api/knowledge/search?q=" + encodeURIComponent(q) + "&limit=" + KB_LIMIT +
      "&include_peer=true");
    if (ask !== kbAsk) return; // a later search was asked meanwhile
    state.kb = answer.ok ? { results: (answer.data.results || []).slice(0, KB_LIMIT), open: "", failed: false }
      : { results: state.kb.results, open: state.kb.open, failed: true };
    renderKnowledge();
  }

  function renderRecordings() { // rebuilt only when they change: a render must not stop a playing recording
    const list = state.recordings;
    $("recordings-block").hidden = !list;
    $("recordings").replaceChildren(...(list || []).map((r) => {
      const url = state.recordingUrls[r.name];
      const item = el("li", { "data-recording": r.name }, r.name + (r.seconds ? ` · ${r.seconds.toFixed(1)} s` : ""),
        r.started_at ? " · " + when(r.started_at) : "", " ");
      if (url) {
        item.append(el("audio", { controls: "", preload: "metadata", src: url }), " ",
          el("a", { href: url, download: r.name, "data-i18n": "download" }, t("download")));
      } else {
        const get = el("button", { type: "button", "data-action": "recording", "data-key": r.name,
          "data-i18n": "get_recording" }, t("get_recording"));
        get.disabled = !allowed("recording");
        get.addEventListener("click", () => run("recording", r.name));
        item.append(get);
      }
      return item;
    }));
    if (list && !list.length) $("recordings").replaceChildren(el("li", {}, t("none")));
  }

  function render() {
    $("agent").textContent = t("agent_label", { agent, platform: t("platform_" + config.platform) });
    const seat = $("seat-state");
    seat.dataset.state = state.seat;
    const reason = state.seat === "paused" && state.seatReason ? "：" + state.seatReason : "";
    seat.textContent = t("seat_" + state.seat) + reason;
    const left = Math.max(0, Math.ceil((state.wrapUntil - Date.now()) / 1000));
    $("seat-countdown").hidden = state.seat !== "wrap_up";
    $("seat-countdown").textContent = left + "s";
    $("sip-state").dataset.state = state.sip;
    $("sip-state").textContent = t("sip_" + state.sip);
    $("sip-note").hidden = webrtc;
    const now = callState();
    $("call-state").dataset.state = now;
    $("call-state").textContent = t("call_" + now);
    $("call-id").textContent = (state.call && state.call.call_id) || "";
    $("connection").className = "conn " + (state.connected ? "conn-up" : "conn-down");
    $("connection").dataset.i18n = state.connected ? "live" : "offline_conn";
    $("connection").textContent = t($("connection").dataset.i18n);
    renderScreen();
    $("t-restricted-field").hidden = config.platform !== "110";
    for (const button of document.querySelectorAll("[data-action]")) {
      const action = button.dataset.action;
      if (action === "mute") button.dataset.i18n = state.muted ? "unmute" : "mute";
      if (action === "hold") button.dataset.i18n = state.held ? "unhold" : "hold";
      if (button.dataset.i18n) button.textContent = t(button.dataset.i18n);
      button.disabled = !allowed(action);
    }
    $("error").hidden = !state.error;
    $("error").dataset.code = state.error ? state.error.code : "";
    $("error").textContent = state.error ? errorText(state.error) : "";
    $("notice").hidden = !state.notice;
    $("notice").textContent = state.notice ? t(state.notice.key, state.notice.vars) : "";
  }

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title") + " · hotline-link";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = lang === "zh" ? "English" : "中文";
    fillUnits();
    renderCallbacks();
    renderRecordings();
    renderKnowledge();
    render();
  }

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
      return { ok: false, status: 0, code: "network", message: String(err) };
    }
    const data = await resp.json().catch(() => ({}));
    if (resp.ok) return { ok: true, status: resp.status, data };
    return refusal(resp, data);
  }

  function refusal(resp, data) {
    const error = (data && data.error) || {};
    return { ok: false, status: resp.status, code: error.code || "http_" + resp.status, message: error.message || "" };
  }

  async function download(path) { // a file the server gives only with the token: as a blob, for a blob: URL
    let resp;
    try {
      resp = await fetch(path, { method: "GET", headers: { Authorization: "Bearer " + token } });
      if (resp.ok) return { ok: true, status: resp.status, blob: await resp.blob() };
    } catch (err) {
      return { ok: false, status: 0, code: "network", message: String(err) };
    }
    return refusal(resp, await resp.json().catch(() => ({})));
  }

  const fail = (answer) => { state.error = { code: answer.code, message: answer.message || "" }; };
  const done = (key, vars) => { state.notice = { key, vars }; };
  const ours = (m) => !!state.call && state.call.call_id === m.call_id;
  const callPath = (suffix) => "/api/calls/" + encodeURIComponent(state.call.call_id) + suffix;
  const ticketPath = (suffix) => "/api/tickets/" + encodeURIComponent(state.ticket.id) + suffix;

  function words() { // what the agent typed, sent along with a transfer or a three-way call
    const out = {}, category = $("t-category").value.trim(), summary = $("t-summary").value.trim();
    if (category) out.category = category.slice(0, 40);
    if (summary) out.summary = summary.slice(0, 120);
    return out;
  }

  // [element, the ticket's field, the element's property, what it shows for no value]
  const FORM = [["t-category", "category", "value", ""], ["t-summary", "summary", "value", ""],
    ["t-division", "division_code", "value", ""], ["t-emergency", "emergency", "checked", false],
    ["t-restricted", "restricted", "checked", false], ["t-severity", "severity", "value", "normal"],
    ["t-tags", "tags", "value", ""]];
  const TAG_SPLIT = /[,，、;；\s]+/;

  function tagsOf(typed) { // 专题标签 as the agent types them: "燃气安全，冬季" -> ["燃气安全", "冬季"]
    return [...new Set(String(typed || "").split(TAG_SPLIT).map((x) => x.trim()).filter(Boolean))];
  }

  function setTicket(ticket) {
    if (!ticket) return;
    const same = state.ticket && state.ticket.id === ticket.id;
    state.ticket = same ? { ...state.ticket, ...ticket } : { ...ticket };
    // the form shows the ticket; a field the agent has changed keeps what they typed
    for (const [id, field, prop, blank] of FORM) {
      const value = state.ticket[field];
      const shown = prop === "checked" ? !!value : Array.isArray(value) ? value.join("，") : value || blank;
      if (!same || $(id)[prop] === state.formShown[id]) $(id)[prop] = shown;
      if (!same || $(id)[prop] === shown) state.formShown[id] = shown;
    }
    if (!same) {
      state.proposed = [];
      loadProposals(ticket.id);
      dropRecordings();
      loadRecordings(ticket.id);
    }
  }

  function dropRecordings() {
    for (const url of Object.values(state.recordingUrls)) URL.revokeObjectURL(url);
    state.recordingUrls = {};
    state.recordings = null;
    renderRecordings();
  }

  function newCall(call) { // a call other than the one on screen brings its own screen and ticket
    if (!state.call || state.call.call_id !== call.call_id) {
      state.screen = null;
      state.ticket = null;
      for (const [id, , prop, blank] of FORM) $(id)[prop] = state.formShown[id] = blank;
      dropRecordings();
    }
    state.call = call;
  }

  function endCall(notice) {
    state.call = null;
    state.held = state.muted = false;
    if (notice) state.notice = notice;
    if (state.seat === "paused" || state.seat === "offline") return;
    if (config.wrap_up_s > 0) {
      state.seat = "wrap_up";
      state.wrapUntil = Date.now() + config.wrap_up_s * 1000;
    } else {
      state.seat = "idle";
    }
  }

  async function loadScreen() {
    const answer = await api("GET", "/api/agents/" + encodeURIComponent(agent) + "/screen");
    if (!answer.ok) { render(); return; } // 404 call_not_found: what the socket said stays
    const screen = answer.data;
    if (state.call && screen.call_id && screen.call_id !== state.call.call_id) return; // a later call's
    state.screen = screen;
    if (state.call && !state.call.caller) state.call.caller = screen.caller || "";
    setTicket(screen.ticket);
    render();
  }

  const readCall = () => api("GET", "/api/agents/" + encodeURIComponent(agent) + "/call");

  async function resync() { // after each (re)connect: what happened while the socket was down
    const answer = await readCall();
    if (answer.ok) {
      const c = answer.data, mine = ours(c);
      const kept = mine && state.call.state === "consulting" && c.state === "talking"; // the server's word for it
      newCall({ call_id: c.call_id, caller: c.caller, state: kept ? "consulting" : c.state,
        source_platform: (c.ticket && c.ticket.source_platform) || (mine ? state.call.source_platform : "") });
      if (!["paused", "offline"].includes(state.seat)) state.seat = c.state === "ringing" ? "ringing" : "talking";
      setTicket(c.ticket);
      render();
      await loadScreen();
    } else if (answer.status === 404) {
      if (state.call && !state.session) endCall(); // it ended while the socket was down
      render();
    } else if (answer.status === 401 || answer.status === 403) {
      fail(answer);
      render();
    }
  }

  async function loadTicket() { // an answered call has its ticket now: read it with the call
    const answer = await readCall();
    if (answer.ok && ours(answer.data)) {
      setTicket(answer.data.ticket);
      render();
    }
  }

  async function loadRecordings(ticketId) { // listed only when the server shows them (403: not this agent's)
    const answer = await api("GET", "/api/tickets/" + encodeURIComponent(ticketId) + "/recordings");
    if (!state.ticket || state.ticket.id !== ticketId) return;
    state.recordings = answer.ok ? answer.data.recordings || [] : null;
    renderRecordings();
  }

  async function loadCallbacks() { // a failed read leaves what was shown: the next one comes soon
    const answer = await api("GET", "/api/callbacks");
    if (!answer.ok) return;
    const sites = answer.data.sites || [];
    state.callbacks = { pending: sites.reduce((n, s) => n + (s.pending || 0), 0),
      requests: sites.flatMap((s) => s.requests || []) };
    renderCallbacks();
  }

  async function loadUnits() {
    const answer = await api("GET", "/api/units");
    if (answer.ok) { state.units = answer.data.units || []; fillUnits(); render(); }
  }

  async function loadProposals(ticketId) {
    const answer = await api("GET", "/api/tickets/" + encodeURIComponent(ticketId) + "/dispatch");
    if (answer.ok && state.ticket && state.ticket.id === ticketId) {
      state.proposed = (answer.data.proposed_units || []).map((u) => u.id);
      fillUnits(true);
      render();
    }
  }

  function fillUnits(propose) { // the units proposed for the ticket first, the first of them chosen
    const select = $("dispatch-unit"), kept = select.value, proposed = (u) => state.proposed.includes(u.id);
    const units = state.units.slice().sort((a, b) => Number(proposed(b)) - Number(proposed(a)));
    select.replaceChildren(el("option", { value: "" }, t("choose_unit")),
      ...units.map((u) => el("option", { value: u.id }, (proposed(u) ? "★ " : "") + u.name)));
    select.value = (propose ? state.proposed[0] || kept : kept || state.proposed[0]) || "";
  }

  // --- the actions ---------------------------------------------------------------------

  const ACTIONS = {
    // no STUN: desk and Asterisk reach each other directly; a STUN server out of reach stalls ICE
    answer: () => state.session.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } }),
    hangup: () => state.session.terminate(),
    mute: () => {
      if (state.muted) state.session.unmute({ audio: true }); else state.session.mute({ audio: true });
      state.muted = !state.muted;
    },
    hold: () => {
      if (state.held) state.session.unhold(); else state.session.hold();
      state.held = !state.held;
    },
    dtmf: (key) => state.session.sendDTMF(key),
    lang: () => {
      lang = lang === "zh" ? "en" : "zh";
      localStorage.setItem("hl-lang", lang);
      applyLanguage();
    },
    transfer: async () => {
      const answer = await api("POST", callPath("/transfer?wait=ring"), { target: other, ...words() });
      if (!answer.ok) return fail(answer);
      endCall({ key: "done_transferred" }); // the caller is with the other platform (or rings back here)
    },
    consult: async () => {
      const answer = await api("POST", callPath("/consult"), { target: other });
      if (!answer.ok) return fail(answer);
      state.call.state = "consulting";
      done("done_consulting");
    },
    "consult-complete": async () => {
      const answer = await api("POST", callPath("/consult/complete"));
      if (!answer.ok) return fail(answer);
      endCall({ key: "done_consult_completed" });
    },
    "consult-cancel": async () => {
      const answer = await api("POST", callPath("/consult/cancel"));
      if (!answer.ok) return fail(answer);
      state.call.state = "talking";
      done("done_consult_cancelled");
    },
    conference: async () => {
      const answer = await api("POST", callPath("/conference"), { target: other, ...words() });
      if (!answer.ok) return fail(answer);
      state.call.state = "conference";
      done("done_conference");
    },
    "conference-leave": async () => {
      const answer = await api("DELETE", callPath("/conference/" + encodeURIComponent(agent)));
      if (!answer.ok) return fail(answer);
      endCall({ key: "done_conference_left" });
    },
    save: async () => {
      const changes = { category: $("t-category").value.trim(), summary: $("t-summary").value.trim(),
        emergency: $("t-emergency").checked };
      const division = $("t-division").value.trim();
      if (division) changes.division_code = division;
      if (config.platform === "110" && $("t-restricted").checked !== !!state.ticket.restricted) {
        changes.restricted = $("t-restricted").checked;
      }
      const severity = $("t-severity").value; // sent only when the agent changes it
      if (severity && severity !== (state.ticket.severity || "normal")) changes.severity = severity;
      const tags = tagsOf($("t-tags").value); // sent only when they changed
      if (tags.join("\n") !== (state.ticket.tags || []).join("\n")) changes.tags = tags;
      const answer = await api("PATCH", ticketPath(""), changes);
      if (!answer.ok) return fail(answer);
      setTicket(answer.data);
      done("done_saved");
    },
    push: async () => {
      const answer = await api("POST", ticketPath("/push"), { target: other });
      if (!answer.ok) return fail(answer);
      done("done_pushed");
    },
    dispatch: async () => {
      const role = $("dispatch-role").value; // 主办 lead, 协办 assisting (joint handling)
      const answer = await api("POST", ticketPath("/dispatch"), { unit: $("dispatch-unit").value, role });
      if (!answer.ok) return fail(answer);
      done(role === "assisting" ? "done_dispatched_assisting" : "done_dispatched",
        { unit: answer.data.unit_name || answer.data.unit });
    },
    recording: async (name) => {
      const ticketId = state.ticket.id;
      if (state.recordingUrls[name]) return;
      const answer = await download(ticketPath("/recordings/" + encodeURIComponent(name)));
      if (!answer.ok) return fail(answer);
      if (!state.ticket || state.ticket.id !== ticketId || state.recordingUrls[name]) return;
      state.recordingUrls[name] = URL.createObjectURL(answer.blob);
      renderRecordings();
    },
    ready: async () => {
      const answer = await api("POST", "/api/agents/" + encodeURIComponent(agent) + "/ready");
      if (!answer.ok) return fail(answer);
      state.seat = answer.data.state;
      state.seatReason = "";
      done("done_ready");
    },
    pause: async () => {
      const reason = $("pause-reason").value;
      const answer = await api("POST", "/api/agents/" + encodeURIComponent(agent) + "/pause", { reason });
      if (!answer.ok) return fail(answer);
      state.seat = answer.data.state;
      state.seatReason = answer.data.reason || reason;
      done("done_paused", { reason: state.seatReason });
    },
  };

  async function run(action, key) {
    if (!allowed(action)) return;
    if (API_ACTIONS.has(action)) {
      state.busy = action;
      state.error = null;
      state.notice = null;
      render();
    }
    try {
      await ACTIONS[action](key);
    } catch (err) { // JsSIP refusing (no such session any more...)
      state.error = { code: "sip_error", message: String((err && err.message) || err) };
    } finally {
      if (state.busy === action) state.busy = "";
      render();
    }
  }

  // --- the agent's events --------------------------------------------------------------

  function onEvent(m) {
    switch (m.type) {
      case "ringing":
      case "transferred_in": // a case handed over by the other platform rings with its ticket
        newCall({ call_id: m.call_id, caller: m.caller || "", state: "ringing",
          source_platform: (m.ticket && m.ticket.source_platform) || "" });
        if (!["paused", "offline"].includes(state.seat)) state.seat = "ringing";
        state.ringCheckAt = Date.now() + RING_CHECK_MS;
        setTicket(m.ticket);
        loadScreen();
        loadCallbacks(); // a callback is offered by ringing this phone
        break;
      case "answered":
        if (ours(m)) state.call.state = "talking";
        else newCall({ call_id: m.call_id, caller: m.caller || "", state: "talking", source_platform: "" });
        if (state.seat !== "offline") state.seat = "talking";
        loadTicket();
        loadScreen();
        break;
      case "hung_up":
        if (ours(m)) {
          endCall();
          if (state.ticket) loadRecordings(state.ticket.id); // the call's recording is complete now
        }
        loadCallbacks(); // a callback's call ending closes or retries its request
        break;
      case "seat_changed": // the seat as the server sees it (the phone registered, a call, wrap-up)
        if (SEAT_STATES.includes(m.new)) {
          if (m.new === "wrap_up" && state.seat !== "wrap_up") state.wrapUntil = Date.now() + (config.wrap_up_s || 0) * 1000;
          state.seat = m.new;
        }
        break;
      case "transfer_failed": // the caller rings this seat again, or is back from a consult
        if (m.via === "consult" && ours(m) && state.call.state === "consulting") state.call.state = "talking";
        if (m.via === "consult" && m.reason === "cancelled") break; // the agent's own click
        fail({ code: m.reason || "target_unreachable" });
        break;
      case "transfer_caller_gone":
        fail({ code: "caller_gone" });
        break;
      case "conference_joined":
        if (ours(m) && (m.parties || []).includes(agent)) state.call.state = "conference";
        break;
      case "conference_left":
        if (ours(m) && m.party === agent) endCall();
        break;
      case "conference_ended":
        if (ours(m)) endCall();
        break;
      default:
        return;
    }
    render();
  }

  let socket = null, retries = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/agents/" + encodeURIComponent(agent)
      + "/events?token=" + encodeURIComponent(token));
    socket.onopen = () => {
      retries = 0;
      state.connected = true;
      render();
      resync();
      loadCallbacks();
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (err) { return; }
      onEvent(message);
    };
    socket.onclose = () => {
      state.connected = false;
      render();
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** retries) * (0.75 + Math.random() / 2);
      retries += 1;
      setTimeout(connect, delay);
    };
  }

  // --- the browser softphone -----------------------------------------------------------

  function sessionOver() {
    const unanswered = !state.answered;
    state.session = null;
    state.answered = state.muted = state.held = false;
    $("remote-audio").srcObject = null;
    // a ringing that stopped here went to another seat, or the caller gave up: re-read the call
    if (unanswered && callState() === "ringing") resync();
    render();
  }

  function incoming(session) {
    if (state.session) { session.terminate({ status_code: 486 }); return; } // one call at a time
    state.session = session;
    state.answered = false;
    if (!state.call) state.call = { call_id: "", caller: "", state: "ringing", source_platform: "" };
    const hear = (pc) => pc.addEventListener("track", (event) => { $("remote-audio").srcObject = event.streams[0]; });
    if (session.connection) hear(session.connection);
    session.on("peerconnection", (event) => hear(event.peerconnection));
    session.on("confirmed", () => {
      state.answered = true;
      if (state.call && state.call.state === "ringing") state.call.state = "talking";
      render();
    });
    session.on("ended", sessionOver);
    session.on("failed", sessionOver);
    render();
  }

  function startPhone() {
    if (!webrtc) return;
    if (typeof JsSIP === "undefined") {
      state.sip = "failed";
      state.error = { code: "softphone_missing", message: "" };
      return;
    }
    const phone = config.softphone;
    const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(phone.ws_url)], uri: phone.sip_uri,
      authorization_user: phone.authorization_user, password: phone.password, display_name: phone.display_name,
      register: true });
    ua.on("registered", () => { state.sip = "registered"; render(); });
    ua.on("unregistered", () => { state.sip = "unregistered"; render(); });
    ua.on("registrationFailed", (event) => {
      state.sip = "failed";
      state.error = { code: "sip_registration_failed", message: (event && event.cause) || "" };
      render();
    });
    ua.on("disconnected", () => { if (state.sip === "registered") { state.sip = "unregistered"; render(); } });
    ua.on("newRTCSession", (event) => { if (event.originator === "remote") incoming(event.session); });
    window.addEventListener("pagehide", () => ua.stop()); // unregister rather than leave a dead contact
    ua.start();
  }

  function tick() { // the wrap-up countdown, and a ringing that ended with no event
    if (state.seat === "wrap_up" && Date.now() >= state.wrapUntil) state.seat = "idle";
    if (callState() === "ringing" && Date.now() >= state.ringCheckAt) {
      state.ringCheckAt = Date.now() + RING_CHECK_MS;
      resync();
    }
    render();
  }

  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => run(button.dataset.action, button.dataset.key));
  }
  $("ticket-form").addEventListener("submit", (event) => { event.preventDefault(); run("save"); });
  $("dispatch-unit").addEventListener("change", render);
  $("t-summary").addEventListener("input", () => suggestSoon("t-summary"));
  $("kb-q").addEventListener("input", () => suggestSoon("kb-q"));
  document.addEventListener("keydown", (event) => {
    const action = SHORTCUTS[event.key];
    if (!action) return;
    event.preventDefault();
    run(action);
  });
  applyLanguage();
  startPhone();
  render();
  connect();
  loadUnits();
  setInterval(tick, 1000);
  setInterval(loadCallbacks, CALLBACKS_EVERY_MS);
})();
