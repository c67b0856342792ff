// mockloop serve: the bench's live view of one rig.
//
// One file, no framework and no build step: the page is embedded in the
// controller and must work offline (a Raspberry Pi on the bench), under a
// strict Content-Security-Policy (no inline script or style, no eval). The
// API and the live stream it reads are described in serve/doc.go.
'use strict';

(() => {
  // Read by the end-to-end test; written only here, never read back, so
  // exposing it cannot change what the page does.
  const stats = { framesReceived: 0, lastT: 0, drawn: 0 };
  window.mockloop = stats;

  const MAX_WINDOW_S = 600;     // the longest window one can choose (10 min)
  const MIN_CAP = 2048;         // initial ring capacity, samples per channel
  // Hard bound on a ring, whatever the stream's rate: 10 min at the live
  // stream's 250 frames per second fit (150 000), at 4 bytes a value.
  const MAX_CAP = 1 << 18;
  const PRESSURES = /^(lvp|aop|lap|rvp|pap|rap|cvp)$/i; // overlaid on one axis
  const GAP_S = 1;              // a longer hole in the data (reconnect) breaks the trace
  const LOG_MAX = 200;          // run events kept in the log
  const STOP_ARM_MS = 4000;     // how long the stop button stays armed
  const INFO_MS = 8000;         // how long a note (not an error) stays up
  const UPLOAD = '\u0000upload'; // select value of an uploaded protocol (no file has this name)
  const ACTIVE = new Set(['running', 'pausing', 'paused', 'stopping']);
  const PALETTE = ['#0b5cad', '#b3161b', '#146c2e', '#7b3fa0', '#a35200', '#00707a', '#5d4037', '#b0186b', '#3d5566', '#5f7a00'];

  const $ = (id) => document.getElementById(id);

  const app = {
    write: true,       // false: the server answered "write": false (read-only token)
    state: 'unknown',  // the run state, as the server last said it
    run: null,         // RUN of the current (or last) run
    protocols: [],     // GET /api/protocols
    upload: null,      // {name, source, info} of a validated uploaded protocol
    es: null,          // the EventSource
    retry: 0,          // reconnect attempts since the stream was last open
    retryTimer: 0,
    stopArmed: 0,      // timer of the armed stop button; 0 when not armed
    sayTimer: 0,       // timer that takes a note down
    pending: new Set(),  // buttons whose request is in flight
    needsLayout: false,  // frames came before we knew the run's layout
    queue: [],           // GET /api/queue, then the stream's "queue" events
  };

  // The live waveforms: one shared time ring (frames are column-major, every
  // channel has a value at every t) and one value ring per channel.
  const view = {
    channels: [],   // [{name, unit, canvas, ctx, valueEl, color, shown}]
    ring: null,
    lastT: 0,       // run time of the newest sample
    window: 10,     // seconds of run time shown (10 s to 10 min)
    frozen: false,  // the display is frozen: frames still fill the ring
    endT: 0,        // right edge of the frozen display, run time
    cursorT: NaN,   // run time under the pointer, NaN when none
    overlay: null,  // {c, canvas, ctx, names}: pressures on one axis
    past: null,     // a past run shown instead of the live one: {run_id, ...}
    cmp: null,      // a second past run overlaid: {run_id, ring, shift, names}
    drawnAt: -Infinity, // when the waveforms were last drawn (animation time, ms)
    dirty: false,   // something to redraw at the next animation frame
    beatChan: '',   // channel whose beats fill the beat panel
    dropped: 0,
    clockText: '',
  };

  // ---- small DOM helpers ------------------------------------------------

  // el builds an element; text goes in as text, never as HTML, since
  // protocol names and error messages come from files anyone can write.
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'data') Object.assign(e.dataset, v);
      else if (k in e) e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function setText(id, text) {
    const e = $(id);
    if (e.textContent !== text) e.textContent = text;
  }

  function num(x) {
    return typeof x === 'number' && Number.isFinite(x);
  }

  // fmt gives a value as many decimals as a bench reading needs.
  function fmt(x) {
    if (!num(x)) return '—';
    const a = Math.abs(x);
    const d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a === 0 ? 0 : 3;
    return x.toFixed(d);
  }

  function fmtDur(s) {
    if (!num(s)) return '—';
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    const mm = h ? String(m).padStart(2, '0') : String(m);
    return (h ? h + ':' : '') + mm + ':' + String(sec).padStart(2, '0');
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? String(iso || '') : d.toLocaleString();
  }

  // ---- messages -----------------------------------------------------------

  // say shows a message; an error stays until the next action, a note
  // goes away by itself so that it is not mistaken for the current state.
  function say(text, kind = 'error') {
    const m = $('message');
    clearTimeout(app.sayTimer);
    m.textContent = text || '';
    m.className = 'msg-' + kind;
    m.hidden = !text;
    if (text && kind === 'info') app.sayTimer = setTimeout(() => say(''), INFO_MS);
  }

  function fail(err) {
    // A 401 shows the token form instead; saying it twice is noise.
    if (err && err.status === 401) return;
    say(err && err.message ? err.message : String(err));
  }

  // ---- API ------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  // api GETs path, or POSTs body as JSON when body is given: the server
  // accepts changes only as JSON POSTs (a form on another site cannot send
  // those).
  async function api(path, body) {
    const init = { headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, 'Cannot reach the controller (' + err.message + ')');
    }
    const data = await res.json().catch(() => null);
    if (res.status === 401) needToken();
    if (!res.ok) {
      const msg = (data && data.error) || res.status + ' ' + res.statusText;
      throw new ApiError(res.status, msg, data);
    }
    return data;
  }

  const get = (path) => api(path);
  const post = (path, body = {}) => api(path, body);

  // ---- auth -----------------------------------------------------------------

  function needToken() {
    const f = $('token-form');
    if (!f.hidden) return;
    f.hidden = false;
    $('token').focus();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const token = $('token').value;
    const name = $('login-name').value.trim();
    try {
      await post('/api/login', name ? { name, password: token } : { token });
    } catch (err) {
      say(err.status === 401 ? 'That name and password, or token, was not accepted.' : err.message);
      $('token').select();
      return;
    }
    $('token').value = '';
    $('token-form').hidden = true;
    say('');
    await reloadAll();
    connect();
  }

  // ---- status, protocols, history ------------------------------------------

  async function reloadAll() {
    const results = await Promise.allSettled([loadStatus(), loadProtocols(), loadRuns(), loadQueue()]);
    const bad = results.find((r) => r.status === 'rejected');
    if (bad) fail(bad.reason);
  }

  async function loadStatus() {
    const s = await get('/api/status');
    setRig(s.rig, s.backend);
    app.write = s.write !== false;
    $('readonly').hidden = app.write;
    // The person every action of this page is recorded under.
    $('who').textContent = s.user ? s.user + ' (' + s.role + ')' : '';
    $('who').hidden = !s.user;
    if (s.run && s.run.run_id && !sameRun(s.run)) startRun(s.run);
    clearTimeout(app.otherTimer);
    if (!s.other) {
      if (!s.run && s.state === 'idle') {
        showIdle(s.last);
        onIdle(s.idle);
      }
      setState(s.state, pausedText(s));
      return;
    }
    // Another process holds the bench (a `mockloop run` in a terminal): the
    // live stream knows nothing of it, so the page asks again every 2 s;
    // stop and the emergency stop act on it through the server.
    const o = s.other;
    setState(s.state, (o.run_id ? 'run ' + o.run_id + ' of ' + o.protocol : o.state) +
      (o.step ? ', step ' + o.step : '') + ', by another process (pid ' + o.pid + ')');
    // Its prompt (a terminal run asks there and here alike).
    if (o.prompt) showPrompt(o.prompt);
    else if (app.prompt) hidePrompt();
    app.otherTimer = setTimeout(() => loadStatus().catch(() => {}), 2000);
  }

  function setRig(rig, backend) {
    if (!rig) return;
    setText('rig', backend ? rig + ' (' + backend + ')' : rig);
    updateTitle();
  }

  function updateTitle() {
    const rig = $('rig').textContent;
    document.title = app.state + ' · ' + rig + ' · mockloop';
  }

  async function loadProtocols() {
    app.protocols = (await get('/api/protocols')) || [];
    renderProtocols();
  }

  function renderProtocols() {
    const sel = $('protocol-select');
    const keep = sel.value;
    sel.replaceChildren();
    for (const p of app.protocols) {
      const errs = p.errors || [];
      sel.append(el('option', {
        value: p.file,
        text: (p.name || p.file) + ' (' + p.file + ')' + (errs.length ? ' — invalid' : ''),
        disabled: errs.length > 0,
        title: errs.length ? errText(errs[0]) : p.description || '',
      }));
    }
    if (app.upload) sel.append(el('option', { value: UPLOAD, text: 'Uploaded: ' + app.upload.name }));
    if (!sel.options.length) sel.append(el('option', { value: '', text: 'No protocols found', disabled: true }));
    const opts = [...sel.options];
    const again = opts.find((o) => o.value === keep && !o.disabled);
    const first = opts.find((o) => !o.disabled);
    sel.value = again ? keep : first ? first.value : '';
    describeProtocol();
  }

  function selectedProtocol() {
    const v = $('protocol-select').value;
    if (v === UPLOAD) return app.upload && app.upload.info;
    return app.protocols.find((p) => p.file === v);
  }

  function describeProtocol() {
    const p = selectedProtocol();
    const parts = [];
    if (p) {
      if (p.description) parts.push(p.description);
      if (num(p.steps)) parts.push(p.steps + (p.steps === 1 ? ' step' : ' steps'));
      if (num(p.planned_s)) parts.push('about ' + fmtDur(p.planned_s));
    }
    setText('protocol-desc', parts.join(' · '));
    updateButtons();
  }

  async function loadRuns() {
    const runs = (await get('/api/runs')) || [];
    const body = $('history').tBodies[0];
    body.replaceChildren(...runs.map(historyRow));
    if (!runs.length) body.append(el('tr', {}, el('td', { colSpan: 5, text: 'No runs recorded yet.' })));
  }

  // ---- the queue: runs waiting for the rig, and the one running ----------------

  async function loadQueue() {
    renderQueue((await get('/api/queue')) || []);
  }

  function renderQueue(list) {
    app.queue = list;
    const body = $('queue').tBodies[0];
    body.replaceChildren(...list.map(queueRow));
    if (!list.length) body.append(el('tr', {}, el('td', { colSpan: 6, text: 'Nothing waiting.' })));
  }

  function queueRow(q) {
    const act = el('td');
    if (q.state === 'queued' && app.write) {
      const b = el('button', { type: 'button', class: 'cancel', text: 'Cancel' });
      b.addEventListener('click', () => {
        const reason = $('reason').value.trim();
        post('/api/queue/' + encodeURIComponent(q.id) + '/cancel', { reason })
          .then(() => say('Queued run ' + q.id + ' cancelled.', 'info'), fail);
      });
      act.append(b);
    }
    const state = q.run_id ? q.state + ' · ' + q.run_id : q.state;
    return el('tr', {},
      el('td', { class: 'num', text: q.position === null ? '' : String(q.position) }),
      el('td', { text: q.protocol }),
      el('td', { text: q.by + (q.role ? ' (' + q.role + ')' : '') + (q.via ? ' · ' + q.via : '') }),
      el('td', { text: fmtTime(q.queued_at) }),
      el('td', {}, el('span', { text: state }), q.error ? el('span', { class: 'sub', text: q.error }) : null),
      act);
  }

  function historyRow(r) {
    const outcome = r.outcome || r.state || '';
    const links = el('td');
    const rep = r.reports || {};
    for (const [key, label] of [['html', 'HTML report'], ['pdf', 'PDF'], ['junit', 'JUnit XML'], ['criteria', 'criteria CSV']]) {
      if (rep[key]) links.append(el('a', { class: 'report', href: rep[key], target: '_blank', rel: 'noopener', text: label }));
    }
    const proto = typeof r.protocol === 'object' && r.protocol ? r.protocol.name : r.protocol;
    return el('tr', {},
      el('td', { class: 'mono', text: r.run_id }),
      el('td', { text: proto || '' }),
      el('td', { text: fmtTime(r.started) }),
      el('td', {}, el('span', { class: 'outcome ' + verdictClass(r.outcome ? outcome : 'running'), text: outcome })),
      links,
      el('td', {}, ...(r.outcome ? viewButtons(r.run_id) : [])));
  }

  // viewButtons open a closed run in the view, or overlay it on the one
  // open.
  function viewButtons(id) {
    const open = el('button', { type: 'button', class: 'view open-run', text: 'Open', data: { run: id } });
    open.addEventListener('click', () => { openPast(id).catch(fail); });
    const cmp = el('button', { type: 'button', class: 'view overlay-run', text: 'Overlay', data: { run: id } });
    cmp.addEventListener('click', () => { compareWith(id).catch(fail); });
    return [open, cmp];
  }

  // ---- run control -----------------------------------------------------------

  function setState(state, reason) {
    if (!state) return;
    app.state = state;
    const e = $('state');
    e.textContent = state;
    e.className = 'state-' + state;
    if (reason !== undefined || state === 'idle') setText('state-reason', reason || '');
    if (!ACTIVE.has(state)) disarmStop();
    updateButtons();
    updateTitle();
  }

  function updateButtons() {
    const s = app.state, w = app.write;
    const busy = (id) => app.pending.has(id);
    const can = {
      start: !!$('protocol-select').value, // a busy rig queues it
      pause: s === 'running',
      resume: s === 'pausing' || s === 'paused',
      stop: s === 'running' || s === 'pausing' || s === 'paused',
    };
    for (const [id, ok] of Object.entries(can)) $(id).disabled = !w || !ok || busy(id);
    // The emergency stop stays usable whatever this page believes the state
    // is: the page may have missed an event, the server knows better (and
    // answers 409 when there is no run).
    $('estop').disabled = !w;
  }

  // act runs a control request for button id, keeping that button disabled
  // while it is in flight so a double click cannot start two runs.
  async function act(id, request) {
    app.pending.add(id);
    updateButtons();
    say('');
    try {
      return await request();
    } catch (err) {
      if (err.status === 422 && err.body && err.body.errors) showErrors('The protocol is not valid', err.body.errors);
      fail(err);
      return null;
    } finally {
      app.pending.delete(id);
      updateButtons();
    }
  }

  function onStart() {
    const sel = $('protocol-select').value;
    const body = sel === UPLOAD && app.upload
      ? { name: app.upload.name, source: app.upload.source }
      : { protocol: sel };
    const op = $('operator').value.trim();
    if (op) body.operator = op;
    try { localStorage.setItem('mockloop.operator', op); } catch (_) { /* storage off: not needed */ }
    return act('start', async () => {
      // The answer is the queue entry: started at once when the rig was
      // free, else waiting its turn (or for a bench another process holds).
      const q = await post('/api/runs', body);
      if (q && q.run_id) say('Run ' + q.run_id + ' started.', 'info');
      else if (q) say('Queued at position ' + q.position + (q.error ? ': ' + q.error : '') + '.', 'info');
    });
  }

  function onStop() {
    // No confirm() dialog (it blocks the page and any automation): the
    // first click arms the button, a second one within a few seconds stops.
    if (!app.stopArmed) {
      const b = $('stop');
      b.classList.add('armed');
      b.textContent = 'Click again to stop';
      app.stopArmed = setTimeout(disarmStop, STOP_ARM_MS);
      return;
    }
    disarmStop();
    const reason = needReason('stop');
    if (reason) act('stop', () => post('/api/run/stop', { reason }));
  }

  // needReason is the reason typed for a pause or a stop, which depart from
  // the protocol as written; '' (and the page says so) when none is.
  function needReason(action) {
    const reason = $('reason').value.trim();
    if (!reason) {
      say('Give a reason to ' + action + ' the run: it is a deviation from the protocol, recorded with your name.');
      $('reason').focus();
    }
    return reason;
  }

  function disarmStop() {
    clearTimeout(app.stopArmed);
    app.stopArmed = 0;
    const b = $('stop');
    b.classList.remove('armed');
    b.textContent = 'Stop';
  }

  function onEstop() {
    // One click, nothing in the way, and not blocked by another request in
    // flight.
    say('Emergency stop sent.', 'info');
    post('/api/run/estop').catch(fail);
  }

  // ---- protocol upload and validation errors ---------------------------------

  async function onUpload() {
    const input = $('upload');
    const file = input.files && input.files[0];
    if (!file) return;
    // Let the same file be picked again after it was edited on disk.
    input.value = '';
    if (file.size > 1 << 20) {
      showErrors(file.name + ' is too large for a protocol (' + file.size + ' bytes)', []);
      return;
    }
    const name = file.name;
    const source = await file.text();
    try {
      const info = await post('/api/validate', { name, source });
      app.upload = { name, source, info: info || {} };
      renderProtocols();
      $('protocol-select').value = UPLOAD;
      describeProtocol();
      const v = $('validation');
      v.replaceChildren(el('p', { class: 'ok', text: '✓ ' + name + ' is valid and selected.' }));
    } catch (err) {
      if (err.status === 422 && err.body) {
        const errs = err.body.errors || [];
        showErrors(name + ': ' + errs.length + (errs.length === 1 ? ' error' : ' errors'), errs, source);
      } else {
        fail(err);
      }
    }
  }

  function errText(e) {
    const where = [e.file, e.line, e.col].filter((x) => x !== undefined && x !== null && x !== '' && x !== 0).join(':');
    return (where ? where + ': ' : '') + (e.msg || '');
  }

  // showErrors lists every problem as file:line:col with its message, then
  // the line of the YAML it is on, numbered, with a caret under the column.
  function showErrors(title, errs, source) {
    const lines = typeof source === 'string' ? source.split(/\r?\n/) : null;
    const list = el('ol');
    for (const e of errs) {
      const where = [e.file, e.line, e.col].filter((x) => x !== undefined && x !== null && x !== '' && x !== 0).join(':');
      const li = el('li', {}, where ? el('code', { text: where }) : null, where ? ' ' : null, e.msg || '');
      const src = lines && num(e.line) && e.line >= 1 && e.line <= lines.length ? lines[e.line - 1] : null;
      if (src !== null) {
        const gutter = String(e.line) + ' | ';
        // A tab is one column for the parser: shown as one space, the caret
        // stays under the character it names.
        const text = src.replace(/\t/g, ' ');
        const caret = num(e.col) && e.col > 0 ? '\n' + ' '.repeat(gutter.length + e.col - 1) + '^' : '';
        li.append(el('pre', { class: 'src', data: { line: String(e.line), col: String(e.col || '') }, text: gutter + text + caret }));
      }
      list.append(li);
    }
    $('validation').replaceChildren(el('p', { class: 'bad', text: title }), list);
  }

  // ---- live stream ----------------------------------------------------------

  function setConn(state) {
    const e = $('conn');
    e.textContent = state;
    e.className = 'conn-' + state;
  }

  function connect() {
    if (app.es) app.es.close();
    clearTimeout(app.retryTimer);
    setConn('connecting');
    const es = new EventSource('/api/live');
    app.es = es;
    es.onopen = () => {
      app.retry = 0;
      setConn('live');
    };
    es.onerror = () => {
      setConn('reconnecting');
      if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // The browser gave up (an error status such as 401, or the server
      // went away mid-handshake): retry ourselves, backing off to 10 s.
      es.close();
      app.es = null;
      if (!$('token-form').hidden) return; // connect() again after login
      const delay = Math.min(10000, 1000 * 2 ** app.retry++);
      app.retryTimer = setTimeout(() => {
        loadStatus().catch(() => {}).finally(() => {
          if ($('token-form').hidden) connect();
        });
      }, delay);
    };
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (ev) => {
        let data;
        try { data = JSON.parse(ev.data); } catch (_) { return; }
        fn(data);
      });
    }
  }

  const handlers = {
    hello(d) {
      setRig(d.rig);
      hidePrompt();
      if (d.run && d.run.run_id) {
        if (!sameRun(d.run)) startRun(d.run);
        catchUp(d);
        if (d.prompt) showPrompt(d.prompt);
      } else if (d.state === 'idle') {
        showIdle(d.last);
        onIdle(d.idle);
      }
      setState(d.state, pausedText(d));
      if (d.state === 'idle') loadStatus().catch(() => {}); // another process may hold the bench
      loadQueue().catch(() => {}); // what changed while the stream was down
    },
    run(d) {
      if (!sameRun(d)) startRun(d);
      loadRuns().catch(fail); // the history lists it as running
    },
    frames: onFrames,
    beat: onBeat,
    step: onStep,
    criterion: addCriterion,
    event: logEvent,
    state(d) {
      setState(d.state, pausedText(d) || d.reason);
      if (d.state === 'idle') loadRuns().catch(fail);
    },
    acknowledged: onAcknowledged,
    prompt: showPrompt,
    'prompt.answered': hidePrompt,
    idle: onIdle,
    safety(d) {
      setSafety(d.reason || 'safety trip');
    },
    end: onEnd,
    queue: renderQueue,
    dropped(d) {
      view.dropped += num(d.n) ? d.n : 0;
      const e = $('dropped');
      e.textContent = '· ' + view.dropped + ' live messages lost (display too slow)';
      e.hidden = false;
    },
  };

  // pausedText is where a paused run holds (status and hello), else
  // undefined: the state's reason is left as it is.
  function pausedText(d) {
    const p = d.paused;
    if (!p || d.state !== 'paused') return undefined;
    const where = p.step ? 'in step ' + p.step : 'before step ' + p.before_step;
    return 'paused ' + where + ' at ' + fmtDur(p.t) + ' run time';
  }

  function sameRun(run) {
    return app.run && run && app.run.run_id === run.run_id;
  }

  // startRun resets the live view for a run: its layout, an empty record of
  // criteria, and no verdict yet.
  function startRun(run) {
    if (view.past) backToLiveQuiet();
    setText('view-mode', '');
    app.run = run;
    app.needsLayout = false;
    buildWaves(run.layout || []);
    view.lastT = 0;
    stats.lastT = 0;
    view.beatChan = '';
    view.clockText = '';
    view.dropped = 0;
    $('dropped').hidden = true;
    for (const id of ['step', 'elapsed', 'beat-sysdia', 'beat-map', 'beat-hr', 'beat-co']) setText(id, '—');
    setText('beat-chan', '');
    setText('remaining', num(run.planned_s) ? fmtDur(run.planned_s) : '—');
    $('criteria').tBodies[0].replaceChildren();
    $('log').replaceChildren();
    $('verdict').hidden = true;
    $('report-link').hidden = true;
    $('ack-box').hidden = true;
    setSafety('');
    view.dirty = true;
  }

  // catchUp shows what a page opened (or reconnected) mid-run missed: the
  // step under way, the criteria decided so far, the latest beat, a trip.
  function catchUp(d) {
    if (d.step) onStep(d.step);
    if (Array.isArray(d.criteria)) {
      $('criteria').tBodies[0].replaceChildren();
      d.criteria.forEach(addCriterion);
    }
    if (d.beat) onBeat(d.beat);
    if (d.safety && d.safety.tripped) setSafety(d.safety.reason || 'safety trip');
  }

  function setSafety(reason) {
    const e = $('safety');
    e.textContent = reason ? 'TRIPPED: ' + reason : 'OK';
    e.className = reason ? 'safety-tripped' : 'safety-ok';
  }

  function onStep(d) {
    const i = num(d.index) ? d.index : '?';
    const n = num(d.total) ? d.total : app.run && app.run.steps_total;
    setText('step', 'step ' + i + '/' + (n || '?') + ' ' + (d.title || ''));
    $('step').title = d.path ? 'step ' + d.path + ': ' + (d.title || '') : '';
  }

  function onBeat(b) {
    // The rig's key beat channel (the aortic pressure on the bench) is
    // what the bench watches; another channel's beats only stand in until
    // it has a beat.
    const key = app.run && app.run.beat_channel;
    if (b.channel === key || !view.beatChan) view.beatChan = b.channel;
    if (num(b.stroke_volume) && num(b.heart_rate)) {
      setText('beat-co', fmt(b.stroke_volume * b.heart_rate / 1000));
    }
    if (b.channel !== view.beatChan) return;
    const ch = view.channels.find((c) => c.name === b.channel);
    setText('beat-chan', b.channel + (ch && ch.unit ? ', ' + ch.unit : ''));
    setText('beat-sysdia', fmt(b.systolic) + ' / ' + fmt(b.diastolic));
    setText('beat-map', fmt(b.mean));
    setText('beat-hr', fmt(b.heart_rate));
  }

  function verdictClass(v) {
    return 'v v-' + String(v || 'no-data').replace('_', '-');
  }

  function addCriterion(c) {
    const verdict = String(c.verdict || 'no-data').replace('_', '-');
    const value = num(c.value) ? fmt(c.value) + (c.unit ? ' ' + c.unit : '') : '—';
    const who = c.id || c.name || '';
    const row = el('tr', { data: { verdict } },
      el('td', {}, el('strong', { text: who }), c.id && c.name ? el('span', { class: 'sub', text: c.name }) : null),
      el('td', { text: [c.step, c.step_name].filter(Boolean).join(' ') || 'whole run' }),
      el('td', {}, el('span', { class: 'mono', text: c.measure || '' }), c.over ? el('span', { class: 'sub', text: c.over }) : null),
      el('td', { class: 'num', text: value }),
      el('td', { text: c.limits || '' }),
      el('td', {}, el('span', { class: verdictClass(verdict), text: verdict.replace('-', ' ') }),
        c.reason ? el('span', { class: 'sub', text: c.reason }) : null));
    $('criteria').tBodies[0].append(row);
  }

  function logEvent(e) {
    const log = $('log');
    log.prepend(el('li', {},
      el('span', { class: 't', text: num(e.t) ? e.t.toFixed(1) + ' s' : '' }),
      el('span', { class: 'kind', text: e.kind || '' }),
      e.step ? 'step ' + e.step + ': ' : '',
      e.msg || ''));
    while (log.children.length > LOG_MAX) log.lastChild.remove();
  }

  function onEnd(d) {
    showVerdict(d);
    showStop(d);
    // The run is over: no step under way, no time remaining. Its waveforms
    // stay until the idle signals (or the next run) replace them.
    app.run = null;
    setText('step', 'idle · last run ' + (d.run_id || '') + (d.protocol ? ' (' + d.protocol + ')' : ''));
    setText('remaining', '—');
    loadRuns().catch(fail);
  }

  // showVerdict shows how a run ended: PASS, FAIL, ABORTED with its reason,
  // or STOPPED (neutral) for a person's stop, and its report.
  function showVerdict(d) {
    const outcome = d.outcome || 'unknown';
    const stop = d.stop;
    const operator = outcome === 'aborted' && stop && stop.kind === 'stop';
    const v = $('verdict');
    v.dataset.outcome = outcome;
    v.dataset.runId = d.run_id || '';
    v.dataset.stop = stop ? stop.kind : '';
    v.className = 'verdict outcome-' + (operator ? 'stopped' : outcome);
    v.replaceChildren(el('span', { class: 'verdict-word', text: operator ? 'STOPPED' : outcome.toUpperCase() }));
    // The separator is for screen readers and textContent; on screen the
    // reason has its own line.
    const reason = operator ? 'stopped by ' + (stop.by || 'an operator') + (stop.reason ? ': ' + stop.reason : '') + ' (outcome aborted)' : d.abort_reason;
    if (reason) v.append(el('span', { class: 'visually-hidden', text: ' — ' }), el('span', { class: 'verdict-reason', text: reason }));
    v.hidden = false;
    const link = $('report-link');
    const html = d.reports && d.reports.html;
    if (html) link.href = html;
    link.hidden = !html;
  }

  // showStop shows an alarm (e-stop, safety trip, fault) red, with its
  // Acknowledge until someone has; a person's stop is no alarm.
  function showStop(d) {
    const stop = d.stop;
    const alarm = d.outcome === 'aborted' && (!stop || stop.alarm);
    setSafety(alarm ? (d.abort_reason || 'run aborted') : '');
    $('ack-box').hidden = !alarm;
    $('ack').hidden = !!d.acknowledged;
    $('ack').disabled = !app.write;
    const a = d.acknowledged;
    setText('ack-note', a ? 'acknowledged by ' + a.by + ' at ' + fmtTime(a.at) + (a.reason ? ': ' + a.reason : '') : 'not acknowledged');
    app.last = d;
  }

  function onAcknowledge() {
    const reason = $('reason').value.trim();
    return act('ack', async () => {
      const r = await post('/api/run/acknowledge', reason ? { reason } : {});
      if (r) onAcknowledged(r);
    });
  }

  function onAcknowledged(d) {
    if (!app.last || app.last.run_id !== d.run_id) return;
    app.last.acknowledged = d.acknowledged;
    showStop(app.last);
  }

  // ---- prompts: the protocol asks the operator ------------------------------

  // showPrompt shows a prompt of the run (live event "prompt", or "prompt"
  // of the status): its message, a button per choice or an input with its
  // unit, and the time left before its default is taken.
  function showPrompt(p) {
    if (!p || !p.id) return;
    app.prompt = p;
    const box = $('prompt-box');
    box.dataset.id = p.id;
    setText('prompt-msg', p.message || '');
    setText('prompt-step', p.step ? 'step ' + p.step : '');
    const choices = $('prompt-choices');
    choices.replaceChildren();
    const input = $('prompt-input');
    const free = !(Array.isArray(p.choices) && p.choices.length);
    $('prompt-free').hidden = !free;
    if (free) {
      input.value = p.default != null ? String(p.default) : '';
      input.type = p.input === 'number' ? 'number' : 'text';
      input.step = 'any';
      setText('prompt-unit', p.unit || '');
    } else {
      for (const c of p.choices) {
        const b = el('button', { type: 'button', class: 'prompt-choice', text: String(c), data: { choice: String(c) } });
        b.addEventListener('click', () => answerPrompt(String(c)));
        choices.append(b);
      }
    }
    box.hidden = false;
    tickPrompt();
    if (free) input.focus();
  }

  // tickPrompt counts down the prompt's timeout, if it has one.
  function tickPrompt() {
    clearTimeout(app.promptTimer);
    const p = app.prompt;
    if (!p || $('prompt-box').hidden) return;
    if (!num(p.timeout_s) || p.timeout_s <= 0) {
      setText('prompt-left', '');
      return;
    }
    const asked = num(p.asked_t) && app.run ? p.asked_t : null;
    const left = asked !== null ? p.timeout_s - (view.lastT - asked) : p.timeout_s;
    setText('prompt-left', fmtDur(Math.max(0, left)) + ' left' + (p.default != null ? ', then ' + p.default : ''));
    app.promptTimer = setTimeout(tickPrompt, 500);
  }

  function hidePrompt(d) {
    if (d && d.id && app.prompt && d.id !== app.prompt.id) return;
    app.prompt = null;
    $('prompt-box').hidden = true;
    clearTimeout(app.promptTimer);
  }

  function answerPrompt(answer) {
    const p = app.prompt;
    if (!p) return;
    act('prompt', async () => {
      await post('/api/run/answer', { id: p.id, answer });
      hidePrompt(p);
    });
  }

  // onIdle shows the rig's signals while no run: sampled at its safe
  // state by the server, nothing recorded; their time starts at the
  // sampling's start.
  function onIdle(d) {
    app.idle = !!(d && d.sampling);
    if (view.past || (app.run && app.state !== 'idle')) return;
    if (!app.idle) {
      setText('view-mode', '');
      return;
    }
    app.run = null;
    buildWaves(d.layout || []);
    view.lastT = 0;
    setText('view-mode', 'Live signals at the safe state · nothing recorded');
    view.dirty = true;
  }

  // showIdle is the page of a rig that runs nothing: the last run's verdict
  // and report, no stale step or clock.
  function showIdle(last) {
    if (view.past) return;
    if (app.run && !last) return;
    app.run = null;
    for (const id of ['step', 'elapsed', 'remaining']) setText(id, '—');
    if (!last) return;
    setText('step', 'idle · last run ' + last.run_id + ' (' + (last.protocol || '') + ')');
    showVerdict(last);
    showStop(last);
  }

  // ---- waveform buffers -----------------------------------------------------

  function makeRing(nch) {
    return {
      cap: MIN_CAP, n: 0, head: 0,
      t: new Float64Array(MIN_CAP),
      v: Array.from({ length: nch }, () => new Float32Array(MIN_CAP)),
    };
  }

  // at gives the slot of the k-th oldest sample.
  function at(r, k) {
    return (r.head - r.n + k + r.cap) % r.cap;
  }

  function grow(r) {
    const cap = r.cap * 2;
    const t = new Float64Array(cap);
    const v = r.v.map(() => new Float32Array(cap));
    for (let k = 0; k < r.n; k++) {
      const i = at(r, k);
      t[k] = r.t[i];
      for (let c = 0; c < v.length; c++) v[c][k] = r.v[c][i];
    }
    Object.assign(r, { cap, t, v, head: r.n });
  }

  function push(r, t, cols, i) {
    // A full ring grows only while it holds less than the longest window,
    // so a fast stream still has 10 min to scroll back through, and a slow
    // one never grows it at all.
    if (r.n === r.cap && r.cap < MAX_CAP && t - r.t[at(r, 0)] < MAX_WINDOW_S * 1.05) grow(r);
    const s = r.head;
    r.t[s] = t;
    for (let c = 0; c < r.v.length; c++) {
      const x = cols[c] ? cols[c][i] : null;
      // JSON null (a non-finite value) must not become 0 in a Float32Array.
      r.v[c][s] = typeof x === 'number' ? x : NaN;
    }
    r.head = (s + 1) % r.cap;
    if (r.n < r.cap) r.n++;
  }

  // firstFrom gives the index (oldest = 0) of the first sample at or after t.
  function firstFrom(r, t) {
    let lo = 0, hi = r.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r.t[at(r, mid)] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function onFrames(d) {
    stats.framesReceived++;
    if (view.past) return; // a past run is shown: the live one waits
    const ts = d.t, cols = d.v;
    if (!Array.isArray(ts) || !ts.length || !Array.isArray(cols)) return;
    const r = view.ring;
    if (!r) {
      // Frames without a layout: ask the server which run this is.
      if (!app.needsLayout) {
        app.needsLayout = true;
        loadStatus().catch(fail);
      }
      return;
    }
    // Time going back means a new run whose start this page missed.
    if (r.n && ts[0] < view.lastT - GAP_S) {
      view.ring = makeRing(r.v.length);
    }
    for (let i = 0; i < ts.length; i++) {
      if (num(ts[i])) push(view.ring, ts[i], cols, i);
    }
    view.lastT = view.ring.n ? view.ring.t[at(view.ring, view.ring.n - 1)] : view.lastT;
    stats.lastT = view.lastT;
    if (!view.frozen) view.dirty = true;
  }

  // ---- a past run, from its record ------------------------------------------

  // ringOf makes a ring of a run view's decimated frames.
  function ringOf(d) {
    const ts = d.t || [], cols = d.v || [];
    const r = makeRing((d.layout || []).length);
    const cap = Math.max(MIN_CAP, ts.length);
    Object.assign(r, { cap, t: new Float64Array(cap), v: r.v.map(() => new Float32Array(cap)) });
    for (let i = 0; i < ts.length; i++) push(r, ts[i], cols, i);
    return r;
  }

  // openPast shows a past run in the live view's place: its waveforms
  // (the whole run in the window, scrollable), beats, criteria and events.
  // The record was verified by the server; a record that failed says so.
  async function openPast(id) {
    const d = await get('/api/runs/' + encodeURIComponent(id) + '/view');
    view.past = d;
    view.cmp = null;
    app.run = null; // the next live run starts afresh
    buildWaves(d.layout || []);
    view.ring = ringOf(d);
    view.lastT = d.duration_s || 0;
    view.endT = view.lastT;
    view.frozen = true;
    setWindow(Math.min(MAX_WINDOW_S, Math.max(10, Math.ceil(view.lastT))));
    $('criteria').tBodies[0].replaceChildren();
    (d.criteria || []).forEach(addCriterion);
    $('log').replaceChildren();
    (d.events || []).forEach(logEvent);
    const beats = d.beats || [];
    view.beatChan = '';
    if (beats.length) onBeat(beats[beats.length - 1]);
    setText('step', (d.steps || []).length + ' steps · ' + (d.protocol || ''));
    setText('elapsed', fmtDur(d.duration_s));
    setText('remaining', '—');
    showVerdict({ run_id: d.run_id, outcome: d.outcome, abort_reason: d.abort_reason, reports: d.reports });
    $('ack-box').hidden = true; // the alarm is the bench's last run's, not this one's
    setText('view-mode', 'Past run ' + d.run_id + (d.verified ? ' · record verified' : ' · INTEGRITY FAILED: ' + (d.integrity || []).join('; ')));
    $('view-mode').className = d.verified ? 'reason' : 'reason integrity-failed';
    $('back-live').hidden = false;
    $('freeze').disabled = true;
    noteWindow();
    view.dirty = true;
  }

  // compareWith overlays a second past run on the one shown, dashed,
  // aligned at the start, or at the step typed in "align at step".
  async function compareWith(id) {
    if (!view.past) {
      say('Open a run first, then overlay another on it.');
      return;
    }
    const d = await get('/api/runs/' + encodeURIComponent(id) + '/view');
    const path = $('align').value.trim();
    let shift = 0;
    if (path) {
      const a = (view.past.steps || []).find((s) => s.path === path);
      const b = (d.steps || []).find((s) => s.path === path);
      if (!a || !b) {
        say('Step ' + path + ' is not in both runs: aligned at the start.');
      } else {
        shift = b.start_s - a.start_s;
      }
    }
    view.cmp = { run_id: d.run_id, ring: ringOf(d), shift, names: (d.layout || []).map((c) => c.name) };
    setWindow(Math.min(MAX_WINDOW_S, Math.max(view.window, Math.ceil(Math.max(view.past.duration_s, d.duration_s - shift)))));
    view.endT = view.past.duration_s;
    noteWindow();
    view.dirty = true;
  }

  // backToLiveQuiet leaves a past run's display state without touching the
  // live run (backToLive does both).
  function backToLiveQuiet() {
    view.past = null;
    view.cmp = null;
    $('back-live').hidden = true;
    $('freeze').disabled = false;
    setText('view-mode', '');
    setFrozen(false);
  }

  // backToLive leaves a past run for the live view.
  function backToLive() {
    backToLiveQuiet();
    app.run = null;
    buildWaves([]);
    $('waves').replaceChildren(el('p', { class: 'empty', text: 'Waiting for the live signals.' }));
    loadStatus().catch(fail);
  }

  // ---- waveform drawing -----------------------------------------------------

  function buildWaves(layout) {
    const box = $('waves');
    box.replaceChildren();
    view.channels = layout.map((ch, c) => {
      const canvas = el('canvas', { class: 'wave', data: { channel: ch.name }, role: 'img', 'aria-label': ch.name + ' waveform' });
      const valueEl = el('span', { class: 'value', text: '—' });
      box.append(el('div', { class: 'wave-box', data: { channel: ch.name } },
        el('div', { class: 'wave-head' },
          el('span', { class: 'name', text: ch.name }),
          el('span', { class: 'unit', text: ch.unit || '' }),
          valueEl),
        canvas));
      pointer(canvas);
      return { name: ch.name, unit: ch.unit || '', canvas, ctx: canvas.getContext('2d'), valueEl, color: PALETTE[c % PALETTE.length], shown: '' };
    });
    view.ring = makeRing(layout.length);
    view.overlay = null;
    buildOverlay();
    if (!layout.length) box.append(el('p', { class: 'empty', text: 'This run has no channels.' }));
  }

  // buildOverlay puts the pressure channels (LVP, AoP, LAP...) on one
  // axis above the others when asked, each in its trace's colour, the
  // colours as the legend; their own panels are hidden meanwhile.
  function buildOverlay() {
    if (view.overlay) view.overlay.box.remove();
    view.overlay = null;
    const on = $('overlay').checked;
    const idx = view.channels.map((ch, c) => (PRESSURES.test(ch.name) ? c : -1)).filter((c) => c >= 0);
    for (const c of idx) view.channels[c].canvas.parentElement.hidden = on && idx.length > 1;
    if (!on || idx.length < 2) return;
    const canvas = el('canvas', { class: 'wave overlay', role: 'img', 'aria-label': 'pressures overlaid' });
    const head = el('div', { class: 'wave-head' }, el('span', { class: 'name', text: 'Pressures' }));
    for (const c of idx) {
      const sw = el('span', { class: 'legend' });
      sw.style.background = view.channels[c].color; // CSSOM, allowed by the CSP
      head.append(sw, el('span', { class: 'legend-name', text: view.channels[c].name }));
    }
    head.append(el('span', { class: 'unit', text: view.channels[idx[0]].unit }));
    const box = el('div', { class: 'wave-box overlay-box' }, head, canvas);
    $('waves').prepend(box);
    pointer(canvas);
    view.overlay = { box, canvas, ctx: canvas.getContext('2d'), idx };
    view.dirty = true;
  }

  // span is the run time the display shows: the window ending at the
  // newest sample, or where a frozen (or past) display was scrolled to.
  function span() {
    const t1 = view.frozen ? view.endT : view.lastT;
    return { t0: t1 - view.window, t1 };
  }

  // niceRange widens [lo, hi] to round numbers, so the y axis stays put
  // while the signal moves inside it.
  function niceRange(lo, hi) {
    if (lo === hi) {
      const d = Math.abs(lo) * 0.1 || 1;
      lo -= d;
      hi += d;
    }
    const raw = (hi - lo) / 4;
    const p = 10 ** Math.floor(Math.log10(raw));
    const f = raw / p;
    const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
    return { lo: Math.floor(lo / step) * step, hi: Math.ceil(hi / step) * step, step };
  }

  // extent is the [lo, hi] of channel c over the span, in ring r; last its
  // newest finite value there.
  function extent(r, c, t0, t1, acc) {
    const vals = r.v[c];
    const k0 = firstFrom(r, t0), k1 = firstFrom(r, t1 + 1e-9);
    for (let k = k0; k < k1; k++) {
      const x = vals[at(r, k)];
      if (x < acc.lo) acc.lo = x;
      if (x > acc.hi) acc.hi = x;
      if (!Number.isNaN(x)) acc.last = x;
    }
    return acc;
  }

  // sizeCanvas matches the canvas to its box and clears it.
  function sizeCanvas(cv, g) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(cv.clientWidth * dpr));
    const h = Math.max(1, Math.round(cv.clientHeight * dpr));
    if (cv.width !== w || cv.height !== h) {
      cv.width = w;
      cv.height = h;
    }
    g.clearRect(0, 0, w, h);
    stats.drawn++;
    return { w, h, dpr };
  }

  // plot draws the traces [{r, c, color, dash}] of one canvas on one y axis
  // over the span, with the grid and the cursor.
  function plot(cv, g, traces) {
    const { w, h, dpr } = sizeCanvas(cv, g);
    const { t0, t1 } = span();
    const acc = { lo: Infinity, hi: -Infinity, last: NaN };
    for (const tr of traces) extent(tr.r, tr.c, t0 + tr.shift, t1 + tr.shift, acc);
    g.font = Math.round(11 * dpr) + 'px system-ui, sans-serif';
    if (acc.lo > acc.hi) {
      g.fillStyle = '#4b5563';
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(view.ring && view.ring.n ? 'no values in this window' : 'waiting for data', w / 2, h / 2);
      return;
    }
    const y = niceRange(acc.lo, acc.hi);
    const padL = Math.round(44 * dpr), pad = Math.round(5 * dpr);
    const pw = w - padL - pad, ph = h - 2 * pad;
    const xOf = (t) => padL + (t - t0) / view.window * pw;
    const yOf = (v) => pad + (y.hi - v) / (y.hi - y.lo) * ph;
    grid(g, y, t0, t1, xOf, yOf, w, h, padL, pad, dpr);
    for (const tr of traces) {
      const r = tr.r;
      traceWave(g, r, r.v[tr.c], firstFrom(r, t0 + tr.shift), firstFrom(r, t1 + tr.shift + 1e-9), (t) => xOf(t - tr.shift), yOf, tr.color, dpr, tr.dash);
    }
    if (num(view.cursorT) && view.cursorT >= t0 && view.cursorT <= t1) {
      const px = Math.round(xOf(view.cursorT)) + 0.5;
      g.strokeStyle = '#111418';
      g.lineWidth = 1;
      g.setLineDash([]);
      g.beginPath();
      g.moveTo(px, pad);
      g.lineTo(px, h - pad);
      g.stroke();
    }
    return acc.last;
  }

  // grid draws one line per y step (labelled) and per time step.
  function grid(g, y, t0, t1, xOf, yOf, w, h, padL, pad, dpr) {
    g.lineWidth = 1;
    g.setLineDash([]);
    g.strokeStyle = '#e1e5ea';
    g.fillStyle = '#4b5563';
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    g.beginPath();
    const decimals = Math.max(0, -Math.floor(Math.log10(y.step) + 1e-9));
    for (let v = y.lo; v <= y.hi + y.step / 2; v += y.step) {
      const py = Math.round(yOf(v)) + 0.5;
      g.moveTo(padL, py);
      g.lineTo(w - pad, py);
      g.fillText(v.toFixed(Math.min(decimals, 3)), padL - 4 * dpr, Math.min(Math.max(py, 6 * dpr), h - 6 * dpr));
    }
    const ts = view.window <= 10 ? 1 : view.window <= 60 ? 5 : view.window <= 120 ? 10 : 60;
    for (let s = Math.ceil(t0 / ts) * ts; s <= t1; s += ts) {
      const px = Math.round(xOf(s)) + 0.5;
      g.moveTo(px, pad);
      g.lineTo(px, h - pad);
    }
    g.stroke();
  }

  // traceWave draws samples k0..k1-1 as at most one vertical min–max stroke
  // per pixel column: a 1 kHz channel costs the same to draw as a 50 Hz one,
  // and 10 min the same as 10 s.
  function traceWave(g, r, vals, k0, k1, xOf, yOf, color, dpr, dash) {
    g.strokeStyle = color;
    g.lineWidth = 1.5 * dpr;
    g.lineJoin = 'round';
    g.setLineDash(dash ? [4 * dpr, 3 * dpr] : []);
    g.beginPath();
    let col = NaN, ymin = 0, ymax = 0, prevT = -Infinity, open = false;
    const gap = Math.max(GAP_S, view.window / 200); // a past run's spans are wider than a live gap
    const flush = () => {
      if (Number.isNaN(col)) return;
      if (!open) {
        g.moveTo(col, ymin);
        open = true;
      }
      g.lineTo(col, ymin);
      if (ymax !== ymin) g.lineTo(col, ymax);
      col = NaN;
    };
    for (let k = k0; k < k1; k++) {
      const i = at(r, k);
      const v = vals[i], t = r.t[i];
      if (Number.isNaN(v) || t - prevT > gap) {
        flush();
        open = false;
      }
      prevT = t;
      if (Number.isNaN(v)) continue;
      const px = Math.round(xOf(t)), py = yOf(v);
      if (px !== col) {
        flush();
        col = px;
        ymin = ymax = py;
      } else {
        if (py < ymin) ymin = py;
        if (py > ymax) ymax = py;
      }
    }
    flush();
    g.stroke();
    g.setLineDash([]);
  }

  // traces are what a channel's canvas draws: the run's trace, and the
  // compared run's on the same channel, dashed.
  function traces(c) {
    const out = [{ r: view.ring, c, color: view.channels[c].color, shift: 0 }];
    const cmp = view.cmp;
    if (cmp) {
      const k = cmp.names.indexOf(view.channels[c].name);
      if (k >= 0) out.push({ r: cmp.ring, c: k, color: '#6b7280', shift: cmp.shift, dash: true });
    }
    return out;
  }

  function drawWave(ch, c) {
    if (ch.canvas.parentElement.hidden) return;
    const last = plot(ch.canvas, ch.ctx, traces(c));
    const shown = num(view.cursorT) ? fmt(valueAt(view.ring, c, view.cursorT)) : fmt(last);
    if (shown !== ch.shown) {
      ch.valueEl.textContent = shown;
      ch.shown = shown;
    }
  }

  function drawOverlay() {
    const o = view.overlay;
    if (!o) return;
    plot(o.canvas, o.ctx, o.idx.flatMap(traces));
  }

  // valueAt is channel c's value at (or just before) run time t.
  function valueAt(r, c, t) {
    if (!r || !r.n) return NaN;
    const k = Math.min(r.n - 1, Math.max(0, firstFrom(r, t) - (firstFrom(r, t) >= r.n ? 1 : 0)));
    return r.v[c][at(r, k)];
  }

  // ---- waveform tools: window, freeze and scroll, cursor -----------------------

  function setWindow(s) {
    view.window = Math.min(MAX_WINDOW_S, Math.max(10, s));
    const opt = [...$('window').options].find((o) => Number(o.value) === view.window);
    if (opt) $('window').value = opt.value;
    noteWindow();
    view.dirty = true;
  }

  function noteWindow() {
    const w = fmtDur(view.window);
    let text = 'Last ' + (view.window < 60 ? view.window + ' s' : w) + ' of run time';
    if (view.past) text = 'Run ' + view.past.run_id + (view.cmp ? ' (solid) and ' + view.cmp.run_id + ' (dashed' + (view.cmp.shift ? ', shifted ' + fmt(view.cmp.shift) + ' s' : '') + ')' : '') + ': ' + fmtDur(span().t0) + ' to ' + fmtDur(span().t1);
    else if (view.frozen) text = 'Frozen at ' + fmtDur(view.endT) + ': drag or scroll to go back, up to 10 min';
    setText('wave-note', text);
  }

  function setFrozen(on) {
    view.frozen = on;
    if (on && !view.past) view.endT = view.lastT;
    $('freeze').setAttribute('aria-pressed', String(on));
    $('freeze').textContent = on ? 'Frozen' : 'Freeze';
    noteWindow();
    view.dirty = true;
  }

  // scrollBy moves a frozen display by dt seconds, within the buffer.
  function scrollBy(dt) {
    if (!view.frozen) setFrozen(true);
    const r = view.ring;
    const first = r && r.n ? r.t[at(r, 0)] : 0;
    const newest = view.past ? view.past.duration_s : view.lastT;
    view.endT = Math.min(newest, Math.max(first + view.window, view.endT + dt));
    noteWindow();
    view.dirty = true;
  }

  // pointer makes a canvas a cursor (hover: time and every trace's
  // value) and, frozen, a scroll bar (drag or wheel).
  function pointer(cv) {
    let dragX = NaN;
    const tAt = (ev) => {
      const b = cv.getBoundingClientRect();
      const padL = 44;
      const { t0 } = span();
      return t0 + (ev.clientX - b.left - padL) / Math.max(1, b.width - padL - 5) * view.window;
    };
    cv.addEventListener('pointermove', (ev) => {
      if (!Number.isNaN(dragX)) {
        const b = cv.getBoundingClientRect();
        scrollBy(-(ev.clientX - dragX) / Math.max(1, b.width) * view.window);
        dragX = ev.clientX;
      }
      setCursor(tAt(ev));
    });
    cv.addEventListener('pointerleave', () => setCursor(NaN));
    cv.addEventListener('click', (ev) => setCursor(tAt(ev)));
    cv.addEventListener('pointerdown', (ev) => {
      if (view.frozen || view.past) dragX = ev.clientX;
    });
    window.addEventListener('pointerup', () => { dragX = NaN; });
    cv.addEventListener('wheel', (ev) => {
      if (!view.frozen && !view.past) return; // the page scrolls as usual
      ev.preventDefault();
      scrollBy((ev.deltaY || ev.deltaX) / 500 * view.window);
    }, { passive: false });
  }

  function setCursor(t) {
    view.cursorT = t;
    view.dirty = true;
    if (!num(t) || !view.ring) {
      setText('cursor-read', '');
      return;
    }
    const parts = ['t ' + t.toFixed(2) + ' s'];
    view.channels.forEach((ch, c) => parts.push(ch.name + ' ' + fmt(valueAt(view.ring, c, t)) + (ch.unit ? ' ' + ch.unit : '')));
    setText('cursor-read', parts.join('  '));
  }

  function updateClock() {
    if (view.past || !app.run) return; // idle signals have no run clock
    const t = view.lastT;
    const planned = app.run && app.run.planned_s;
    const text = fmtDur(t) + '|' + (num(planned) ? fmtDur(Math.max(0, planned - t)) : '—');
    if (text === view.clockText) return;
    view.clockText = text;
    const [elapsed, rem] = text.split('|');
    setText('elapsed', elapsed);
    setText('remaining', rem);
  }

  // render runs at the display's refresh rate, but draws only when frames
  // arrived or the canvases changed size: the Pi's CPU is shared with the
  // sampler. A frozen display is not redrawn for new frames.
  // A long window costs a pass over up to 150 000 samples per channel: it
  // is redrawn a few times a second, not at the display's rate.
  function render(now) {
    requestAnimationFrame(render);
    if (!view.dirty || !view.ring) return;
    const every = view.window > 30 && !view.frozen && !view.past ? 250 : 0;
    if (now - view.drawnAt < every) return;
    view.drawnAt = now;
    view.dirty = false;
    for (let c = 0; c < view.channels.length; c++) drawWave(view.channels[c], c);
    drawOverlay();
    if (view.ring.n) updateClock();
  }

  // ---- start ------------------------------------------------------------------

  function init() {
    $('protocol-select').addEventListener('change', describeProtocol);
    $('upload').addEventListener('change', () => { onUpload().catch(fail); });
    $('start').addEventListener('click', onStart);
    $('pause').addEventListener('click', () => {
      const reason = needReason('pause');
      if (reason) act('pause', () => post('/api/run/pause', { reason }));
    });
    $('resume').addEventListener('click', () => act('resume', () => post('/api/run/resume')));
    $('stop').addEventListener('click', onStop);
    $('estop').addEventListener('click', onEstop);
    $('ack').addEventListener('click', onAcknowledge);
    $('prompt-free').addEventListener('submit', (ev) => {
      ev.preventDefault();
      answerPrompt($('prompt-input').value.trim());
    });
    $('window').addEventListener('change', () => setWindow(Number($('window').value)));
    $('freeze').addEventListener('click', () => setFrozen(!view.frozen));
    $('overlay').addEventListener('change', buildOverlay);
    $('back-live').addEventListener('click', backToLive);
    $('token-form').addEventListener('submit', (ev) => { onLogin(ev).catch(fail); });
    try { $('operator').value = localStorage.getItem('mockloop.operator') || ''; } catch (_) { /* storage off */ }
    new ResizeObserver(() => { view.dirty = true; }).observe($('waves'));
    updateButtons();
    reloadAll().finally(connect);
    requestAnimationFrame(render);
  }

  init();
})();
