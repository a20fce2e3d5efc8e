// Equivalence with ADK-TS: the same scripted conversation against ADK-TS's
// own `adk api_server` (@google/adk-devtools 2.0, agents in
// equivalence/ts_agents, model equivalence/scripted_llm.mjs) and against our
// adk-server (agents in equivalence/cpp_agents, `--script
// equivalence/script.json`): every response is compared field by field —
// every key present on either side, recursively — ignoring only ids and
// timestamps (ids must have the same form and the same identity relations:
// the canonical numbering below) and the documented deviations listed in
// DEVIATIONS.
//
//   node equivalence_test.mjs /path/to/adk-server
//
// What runs (docs/api-server.md, "Compatibility with ADK-TS"):
//   - apps weather (function tool with a state delta + output_key), desk (a
//     transfer to a sub-agent), pipeline (a SequentialAgent passing state by
//     output_key), each in a session created with initial state, two turns,
//     through /run and /run_sse with streaming false and true;
//   - GET session after the runs (state and events), list sessions;
//   - a /run carrying a stateDelta;
//   - a session created with a chosen id, then again (error), deleted;
//   - errors: unknown session / unknown app on GET, /run, /run_sse, DELETE.
// Every mismatch is collected; a diff is printed for each; exit code 1 if
// any (2 for a usage or start-up error).
import {spawn} from 'node:child_process';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';
import path from 'node:path';
import {isDeepStrictEqual} from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const eqDir = path.join(here, 'equivalence');
const scriptPath = path.join(eqDir, 'script.json');
const ourServerPath = process.argv[2] ?? process.env.ADK_SERVER;
if (!ourServerPath) {
  console.error('usage: node equivalence_test.mjs /path/to/adk-server');
  process.exit(2);
}
const verbose = process.env.EQUIV_VERBOSE === '1';

// ---- documented deviations (docs/api-server.md, "Where we deviate from ADK") ----
// Each is applied to one kind of response before comparing; the run prints
// how often each one was used. Keep this list short: a difference that is not
// a deliberate, documented choice is a bug to fix, not an entry here.
const DEVIATIONS = {
  runStreaming: {
    reason: 'POST /run honours "streaming" in ours (the array then holds the partial events, documented ' +
            'in api-server.md, Routes); ADK-TS and ADK-python ignore it on /run. Our partial events are ' +
            'dropped from /run arrays before comparing; the rest must match.',
    used: 0,
  },
  deleteStatus: {
    reason: 'DELETE of a session answers 200 with null (ADK-python); ADK-TS answers 204 with no body, ' +
            'which its own AdkApiClient cannot parse (documented in api-server.md).',
    used: 0,
  },
  listSessions: {
    reason: 'List sessions answers a bare array (ADK-python); ADK-TS wraps it in {sessions, page, limit, ' +
            'totalItems, totalPages} (documented). The arrays are compared.',
    used: 0,
  },
};

// ---- servers ----------------------------------------------------------------------

/** Spawns `cmd args` and resolves with {child, url} once a stdout line matches `re`. */
function startServer(label, cmd, args, re, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options});
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; if (verbose) process.stderr.write(`[${label}] ${d}`); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not start in 60 s\n${stderr}`));
    }, 60000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    const onExit = (code) => { clearTimeout(timer); reject(new Error(`${label} exited early (${code})\n${stderr}`)); };
    child.on('exit', onExit);
    const lines = createInterface({input: child.stdout});
    lines.on('line', (line) => {
      if (verbose) console.error(`[${label}] ${line}`);
      const m = re.exec(line);
      if (!m) return;
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      resolve({child, url: m[1], label});
    });
  });
}

function stopServer(server) {
  if (!server || server.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { server.child.kill('SIGKILL'); }, 5000);
    server.child.once('exit', () => { clearTimeout(timer); resolve(); });
    server.child.kill('SIGTERM');
  });
}

// ---- HTTP -------------------------------------------------------------------------

/** One request; resolves with {status, contentType, body (parsed JSON or text or null), raw}. */
async function request(base, method, urlPath, body) {
  const init = {method, headers: {}};
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(base + urlPath, init);
  const raw = await res.text();
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  let parsed = raw === '' ? null : raw;
  if (contentType === 'application/json' && raw !== '') {
    try { parsed = JSON.parse(raw); } catch { parsed = raw; }
  }
  return {status: res.status, contentType, body: parsed, raw};
}

/** /run_sse's frames: each `data: <json>` block; anything else in the stream is an error. */
function parseSse(raw) {
  const events = [];
  const problems = [];
  if (raw !== '' && !raw.endsWith('\n\n')) problems.push('the stream does not end with a blank line');
  for (const block of raw.split('\n\n')) {
    if (block === '') continue;
    const lines = block.split('\n');
    if (lines.length !== 1 || !lines[0].startsWith('data: ')) {
      problems.push(`a frame that is not one data line: ${JSON.stringify(block)}`);
      continue;
    }
    try {
      events.push(JSON.parse(lines[0].slice(6)));
    } catch {
      problems.push(`a data line that is not JSON: ${lines[0]}`);
    }
  }
  return {events, problems};
}

// ---- normalization: ids and timestamps --------------------------------------------

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** The form of an id: uuids become <uuid>, other letters-and-digits runs <alnumN>. */
function idForm(v) {
  if (typeof v !== 'string') return `<${typeof v}>`;
  return v.replace(new RegExp(UUID, 'g'), '<uuid>').replace(/^[A-Za-z0-9]+$/, (s) => `<alnum${s.length}>`);
}

/** Per server: ids are replaced by kind#n in order of first appearance, with their form. */
class IdMap {
  constructor() { this.maps = {}; }
  canon(kind, value) {
    const m = (this.maps[kind] ??= new Map());
    if (!m.has(value)) m.set(value, `${kind}#${m.size + 1} ${idForm(value)}`);
    return `<${m.get(value)}>`;
  }
}

const CALL_ID = new RegExp(`^adk-${UUID.source}$`);

/** Replaces function-call ids (adk-<uuid>) anywhere below `v`. */
function canonCallIds(v, ids) {
  if (typeof v === 'string') return CALL_ID.test(v) ? ids.canon('call', v) : v;
  if (Array.isArray(v)) return v.map((x) => canonCallIds(x, ids));
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[CALL_ID.test(k) ? ids.canon('call', k) : k] = canonCallIds(x, ids);
    return out;
  }
  return v;
}

function normTimestamp(t) {
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? '<timestamp>' : `<bad timestamp ${JSON.stringify(t)}>`;
}

function normEvent(e, ids) {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return e;
  const out = canonCallIds(e, ids);
  if ('id' in e) out.id = ids.canon('event', e.id);
  if ('invocationId' in e) out.invocationId = ids.canon('invocation', e.invocationId);
  if ('timestamp' in e) out.timestamp = normTimestamp(e.timestamp);
  return out;
}

function normSession(s, ids) {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return s;
  const out = {...s};
  if ('id' in s) out.id = ids.canon('session', s.id);
  if ('lastUpdateTime' in s) out.lastUpdateTime = normTimestamp(s.lastUpdateTime);
  if (Array.isArray(s.events)) out.events = s.events.map((e) => normEvent(e, ids));
  return out;
}

// ---- comparing --------------------------------------------------------------------

/** Every difference between a (ADK-TS) and b (ours), recursively over the keys of both. */
function diff(a, b, where = '$', out = []) {
  if (isDeepStrictEqual(a, b)) return out;
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(a) !== kind(b)) {
    out.push(`${where}: ADK-TS ${show(a)}  ours ${show(b)}`);
  } else if (kind(a) === 'array') {
    if (a.length !== b.length) out.push(`${where}: ADK-TS has ${a.length} items, ours ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) diff(a[i], b[i], `${where}[${i}]`, out);
  } else if (kind(a) === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const at = `${where}.${k}`;
      if (!(k in b)) out.push(`${at}: only in ADK-TS: ${show(a[k])}`);
      else if (!(k in a)) out.push(`${at}: only in ours: ${show(b[k])}`);
      else diff(a[k], b[k], at, out);
    }
  } else {
    out.push(`${where}: ADK-TS ${show(a)}  ours ${show(b)}`);
  }
  return out;
}

function show(v) {
  const s = JSON.stringify(v);
  return s === undefined ? 'undefined' : s.length > 200 ? s.slice(0, 200) + '…' : s;
}

/** The shape of an error body: its keys and their types ({"error": "string"}). */
function errorShape(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {notAnObject: show(body)};
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, Array.isArray(v) ? 'array' : typeof v]));
}

let checks = 0;
const failures = [];
const notes = [];
const patterns = new Map();  // a difference without its indices -> how many steps show it

function compare(step, ts, ours, context = {}) {
  checks++;
  const d = diff(ts, ours);
  if (d.length === 0) {
    if (verbose) console.log(`ok   ${step}`);
    return true;
  }
  // The whole diff and both sides for the first step showing a new kind of
  // difference (or every step with EQUIV_VERBOSE=1); one line for the others.
  const kinds = d.map((line) => line.replace(/\[\d+\]/g, '[]'));
  const fresh = kinds.some((k) => !patterns.has(k));
  for (const k of kinds) patterns.set(k, (patterns.get(k) ?? 0) + 1);
  failures.push({step, diff: d});
  if (!fresh && !verbose) {
    console.log(`FAIL ${step} (${d.length} difference${d.length > 1 ? 's' : ''}, seen before)`);
    return false;
  }
  console.log(`FAIL ${step}`);
  for (const line of d.slice(0, 40)) console.log(`       ${line}`);
  if (d.length > 40) console.log(`       … ${d.length - 40} more`);
  const sides = context.raw ?? {ts, ours};
  console.log(`       ADK-TS: ${JSON.stringify(sides.ts)}`);
  console.log(`       ours:   ${JSON.stringify(sides.ours)}`);
  return false;
}

// ---- the conversation -------------------------------------------------------------

const APPS = {
  weather: ['What is the weather in Lisbon in May?', 'thanks!'],
  desk: ['I need help', 'more help please'],
  pipeline: ['Write about Lisbon', 'Once more'],
};
const MODES = [
  {route: 'run', streaming: false},
  {route: 'run', streaming: true},
  {route: 'run_sse', streaming: false},
  {route: 'run_sse', streaming: true},
];
const INITIAL_STATE = {user_name: 'Ada', visits: 1, prefs: {units: 'metric'}};

/** Both sides' answer to the same request: [ts, ours], each {status, contentType, body, raw}. */
async function both(servers, method, urlPath, body) {
  const ts = await request(servers.ts.url, method, urlPath, typeof body === 'function' ? body('ts') : body);
  const ours = await request(servers.ours.url, method, urlPath, typeof body === 'function' ? body('ours') : body);
  return [ts, ours];
}

async function runConversations(servers, ids) {
  const sessionIds = {ts: {}, ours: {}};
  for (const [app, turns] of Object.entries(APPS)) {
    for (const mode of MODES) {
      const tag = `${app} ${mode.route} streaming=${mode.streaming}`;
      const user = `user_${mode.route}_${mode.streaming}`;
      // A session created with initial state (id chosen by the server).
      const [cts, cours] = await both(servers, 'POST', `/apps/${app}/users/${user}/sessions`, {state: INITIAL_STATE});
      compare(`${tag}: create session`, {status: cts.status, session: normSession(cts.body, ids.ts)},
              {status: cours.status, session: normSession(cours.body, ids.ours)});
      const sid = {ts: cts.body?.id, ours: cours.body?.id};
      sessionIds.ts[`${app}/${user}`] = sid.ts;
      sessionIds.ours[`${app}/${user}`] = sid.ours;

      for (const [turn, text] of turns.entries()) {
        const step = `${tag}: turn ${turn + 1} "${text}"`;
        const body = (side) => ({
          appName: app, userId: user, sessionId: sid[side], streaming: mode.streaming,
          newMessage: {role: 'user', parts: [{text}]},
        });
        const [rts, rours] = await both(servers, 'POST', `/${mode.route}`, body);
        let evTs;
        let evOurs;
        if (mode.route === 'run') {
          evTs = Array.isArray(rts.body) ? rts.body : [];
          evOurs = Array.isArray(rours.body) ? rours.body : [];
          if (mode.streaming && evOurs.some((e) => e.partial)) {
            DEVIATIONS.runStreaming.used++;
            evOurs = evOurs.filter((e) => !e.partial);
          }
        } else {
          const pts = parseSse(rts.raw);
          const pours = parseSse(rours.raw);
          compare(`${step}: SSE framing`, {contentType: rts.contentType, problems: pts.problems},
                  {contentType: rours.contentType, problems: pours.problems});
          evTs = pts.events;
          evOurs = pours.events;
        }
        compare(`${step}: status`, rts.status, rours.status, {raw: {ts: rts.raw, ours: rours.raw}});
        const nts = evTs.map((e) => normEvent(e, ids.ts));
        const nours = evOurs.map((e) => normEvent(e, ids.ours));
        if (nts.length !== nours.length) {
          compare(`${step}: events`, nts, nours);
        } else {
          for (let i = 0; i < nts.length; i++) compare(`${step}: event ${i + 1}/${nts.length}`, nts[i], nours[i]);
        }
        if (mode.streaming && mode.route === 'run_sse' && !evTs.some((e) => e.partial))
          notes.push(`${step}: ADK-TS streamed no partial event (the script streams chunks)`);
      }

      // The session as stored: state (initial + tool delta + output_key) and the events.
      const [sts, sours] = [
        await request(servers.ts.url, 'GET', `/apps/${app}/users/${user}/sessions/${sid.ts}`),
        await request(servers.ours.url, 'GET', `/apps/${app}/users/${user}/sessions/${sid.ours}`),
      ];
      compare(`${tag}: GET session status`, sts.status, sours.status);
      const ssts = normSession(sts.body, ids.ts);
      const ssours = normSession(sours.body, ids.ours);
      compare(`${tag}: GET session state`, ssts?.state, ssours?.state);
      const sets = ssts?.events ?? [];
      const seours = ssours?.events ?? [];
      if (sets.length !== seours.length) {
        compare(`${tag}: GET session events`, sets, seours);
      } else {
        for (let i = 0; i < sets.length; i++)
          compare(`${tag}: GET session event ${i + 1}/${sets.length}`, sets[i], seours[i]);
      }
      const rest = (s) => { if (!s || typeof s !== 'object') return s; const {events, state, ...r} = s; return r; };
      compare(`${tag}: GET session (other fields)`, rest(ssts), rest(ssours));
    }
  }

  // List sessions of one user: the same sessions, without events.
  const user = 'user_run_sse_true';
  const [lts, lours] = await both(servers, 'GET', `/apps/weather/users/${user}/sessions`);
  let listTs = lts.body;
  if (listTs && !Array.isArray(listTs) && Array.isArray(listTs.sessions)) {
    DEVIATIONS.listSessions.used++;
    listTs = listTs.sessions;
  }
  compare('list sessions', {status: lts.status, sessions: (listTs ?? []).map((s) => normSession(s, ids.ts))},
          {status: lours.status, sessions: (Array.isArray(lours.body) ? lours.body : []).map((s) => normSession(s, ids.ours))});
}

/** A run carrying a stateDelta: the events, then the session. */
async function runWithStateDelta(servers, ids) {
  const app = 'weather';
  const user = 'u_state_delta';
  const [cts, cours] = await both(servers, 'POST', `/apps/${app}/users/${user}/sessions`, {state: INITIAL_STATE});
  compare('stateDelta run: create session', {status: cts.status, session: normSession(cts.body, ids.ts)},
          {status: cours.status, session: normSession(cours.body, ids.ours)});
  const sid = {ts: cts.body?.id, ours: cours.body?.id};
  const body = (side) => ({appName: app, userId: user, sessionId: sid[side], streaming: false,
                           stateDelta: {visits: 2, prefs: {units: 'imperial'}},
                           newMessage: {role: 'user', parts: [{text: 'thanks!'}]}});
  const [rts, rours] = await both(servers, 'POST', '/run', body);
  compare('stateDelta run: /run', {status: rts.status, events: (rts.body ?? []).map((e) => normEvent(e, ids.ts))},
          {status: rours.status, events: (rours.body ?? []).map((e) => normEvent(e, ids.ours))});
  const sts = await request(servers.ts.url, 'GET', `/apps/${app}/users/${user}/sessions/${sid.ts}`);
  const sours = await request(servers.ours.url, 'GET', `/apps/${app}/users/${user}/sessions/${sid.ours}`);
  compare('stateDelta run: GET session', {status: sts.status, session: normSession(sts.body, ids.ts)},
          {status: sours.status, session: normSession(sours.body, ids.ours)});
}

async function runSessionsAndErrors(servers, ids) {
  const base = '/apps/weather/users/u_errors/sessions';
  // A session with a chosen id and initial state.
  const [cts, cours] = await both(servers, 'POST', `${base}/chosen_id`, {state: {user_name: 'Bob'}});
  compare('create session with id', {status: cts.status, session: normSession(cts.body, ids.ts)},
          {status: cours.status, session: normSession(cours.body, ids.ours)});
  // Again: an error.
  const [dts, dours] = await both(servers, 'POST', `${base}/chosen_id`, {state: {}});
  compare('create session with an existing id', {status: dts.status, shape: errorShape(dts.body), body: dts.body},
          {status: dours.status, shape: errorShape(dours.body), body: dours.body});

  // Errors: status and shape compared; a different message is a note.
  const msg = (text) => ({appName: 'weather', userId: 'u_errors', sessionId: 'missing',
                          newMessage: {role: 'user', parts: [{text}]}});
  const cases = [
    ['GET unknown session', 'GET', `${base}/missing`],
    ['GET session of an unknown app', 'GET', '/apps/no_such_app/users/u_errors/sessions/missing'],
    ['POST /run unknown session', 'POST', '/run', msg('hi')],
    ['POST /run_sse unknown session', 'POST', '/run_sse', {...msg('hi'), streaming: true}],
    ['POST /run unknown app', 'POST', '/run', {...msg('hi'), appName: 'no_such_app'}],
    ['POST /run_sse unknown app', 'POST', '/run_sse', {...msg('hi'), appName: 'no_such_app'}],
    ['DELETE unknown session', 'DELETE', `${base}/missing`],
  ];
  for (const [name, method, urlPath, body] of cases) {
    const [ts, ours] = await both(servers, method, urlPath, body);
    compare(name, {status: ts.status, contentType: ts.contentType, shape: errorShape(ts.body)},
            {status: ours.status, contentType: ours.contentType, shape: errorShape(ours.body)},
            {raw: {ts: `${ts.status} ${ts.raw}`, ours: `${ours.status} ${ours.raw}`}});
    if (!isDeepStrictEqual(ts.body, ours.body))
      notes.push(`${name}: messages differ: ADK-TS ${show(ts.body)}  ours ${show(ours.body)}`);
  }

  // Delete the session, then it is gone on both.
  const [xts, xours] = await both(servers, 'DELETE', `${base}/chosen_id`);
  let del = {status: xours.status, body: xours.body};
  if (xts.status === 204 && xours.status === 200 && xours.body === null) {
    DEVIATIONS.deleteStatus.used++;
    del = {status: 204, body: xts.body};
  }
  compare('DELETE session', {status: xts.status, body: xts.body}, del);
  const [gts, gours] = await both(servers, 'GET', `${base}/chosen_id`);
  compare('GET deleted session', {status: gts.status, body: gts.body}, {status: gours.status, body: gours.body});
}

// ---- main -------------------------------------------------------------------------

const servers = {};
let exitCode = 0;
try {
  const tsCli = path.join(here, 'node_modules/@google/adk-devtools/dist/esm/cli_entrypoint.js');
  [servers.ts, servers.ours] = await Promise.all([
    startServer('adk-ts', process.execPath,
                [tsCli, 'api_server', '--host', '127.0.0.1', '--port', '0', path.join(eqDir, 'ts_agents')],
                /access at (http:\/\/127\.0\.0\.1:\d+)/, {env: {...process.env, EQUIV_SCRIPT: scriptPath}}),
    startServer('adk-server', ourServerPath,
                ['--host', '127.0.0.1', '--port', '0', '--script', scriptPath, path.join(eqDir, 'cpp_agents')],
                /^listening on (http:\/\/\S+)$/),
  ]);
  console.log(`ADK-TS api_server: ${servers.ts.url}   adk-server: ${servers.ours.url}`);

  const [ats, aours] = await both(servers, 'GET', '/list-apps');
  compare('list apps', ats.body, aours.body);

  const ids = {ts: new IdMap(), ours: new IdMap()};
  await runConversations(servers, ids);
  await runWithStateDelta(servers, ids);
  await runSessionsAndErrors(servers, ids);

  console.log('');
  console.log('documented deviations applied:');
  for (const [name, d] of Object.entries(DEVIATIONS)) console.log(`  ${name} (${d.used}x): ${d.reason}`);
  if (notes.length) {
    console.log('notes (not failures):');
    for (const n of notes) console.log(`  ${n}`);
  }
  if (failures.length) {
    console.log(`\nequivalence_test: FAILED: ${failures.length} of ${checks} comparisons differ; the differences, ` +
                'by how many comparisons show them:');
    for (const [k, n] of [...patterns].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)}x ${k}`);
    exitCode = 1;
  } else {
    console.log(`\nequivalence_test: all ${checks} comparisons match (ids and timestamps aside)`);
  }
} catch (e) {
  console.error('equivalence_test: ERROR');
  console.error(e);
  exitCode = 2;
} finally {
  await Promise.all([stopServer(servers.ts), stopServer(servers.ours)]);
}
process.exit(exitCode);
