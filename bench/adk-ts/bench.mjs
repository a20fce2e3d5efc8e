// Agent-layer benchmark of ADK for TypeScript (@google/adk 2.0.0), in process.
// Definitions (what a C++ twin must do to be comparable): README-bench.md.
//
//   node --expose-gc bench.mjs invoke   [--n 10000] [--concurrency 1] [--warmup 500]
//   node --expose-gc bench.mjs fanout   [--children 1000] [--warmup 500]
//   node --expose-gc bench.mjs sessions [--sessions 10000] [--per-session 5] [--warmup 500]
//   node --expose-gc bench.mjs persist  [--n 10000] [--concurrency 1] [--warmup 500] [--db PATH]
//     (added by aio: the invoke workload on DatabaseSessionService('sqlite://<fresh file>'))
//   any of them: [--tracing none|retain]   (retain = OpenTelemetry set up as adk api_server does)
//
// Each run prints exactly one JSON line on stdout. Memory comes from /proc/self/status
// (VmRSS, VmHWM) and, after a full GC (needs --expose-gc), process.memoryUsage().heapUsed.
import {readFileSync, rmSync} from 'node:fs';
import {availableParallelism, tmpdir} from 'node:os';
import {join} from 'node:path';
import {createRequire} from 'node:module';
import {InMemoryRunner, Runner, DatabaseSessionService, setLogLevel, LogLevel} from '@google/adk';
import {makeFanoutAgent, makeLlmAgent, USER_TEXT} from './lib/bench_model.mjs';

const require = createRequire(import.meta.url);
const ADK_VERSION = require('@google/adk/package.json').version;
const APP = 'bench';
const USER = 'user';
const FINAL_TEXT = 'The sum is 5.';

function parseArgs(argv) {
  const out = {_: []};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) { out[a.slice(2)] = argv[i + 1]; i++; } else out._.push(a);
  }
  return out;
}

function procStatusKb(field) {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : NaN;
}

function fullGc() {
  if (typeof globalThis.gc !== 'function') return false;
  // two passes: the first may only queue finalizers / weak callbacks
  globalThis.gc(); globalThis.gc();
  return true;
}

function memSnapshot() {
  const gcDone = fullGc();
  return {rss_kb: procStatusKb('VmRSS'), hwm_kb: procStatusKb('VmHWM'),
          heap_used: process.memoryUsage().heapUsed, gc: gcDone};
}

function userMessage() {
  return {role: 'user', parts: [{text: USER_TEXT}]};
}

// One invocation in session `sessionId`: run to completion, return the number of events
// yielded by the runner. Checks the scripted conversation (function call, response, text).
async function runOnce(runner, sessionId, expectEvents = 3) {
  let n = 0;
  let last;
  for await (const ev of runner.runAsync({userId: USER, sessionId, newMessage: userMessage()})) {
    n++;
    last = ev;
  }
  if (expectEvents !== null && n !== expectEvents) throw new Error(`expected ${expectEvents} events, got ${n}`);
  const text = last?.content?.parts?.[0]?.text;
  if (text !== FINAL_TEXT) throw new Error(`unexpected final event: ${JSON.stringify(last)}`);
  return n;
}

// create_session, then one invocation to completion.
async function freshInvocation(runner) {
  const s = await runner.sessionService.createSession({appName: APP, userId: USER});
  return runOnce(runner, s.id);
}

async function warmup(count) {
  if (!count) return;
  const runner = new InMemoryRunner({agent: makeLlmAgent('bench_agent'), appName: APP});
  for (let i = 0; i < count; i++) await freshInvocation(runner);
}

async function invoke(opts) {
  const n = Number(opts.n ?? 10000);
  const conc = Number(opts.concurrency ?? 1);
  await warmup(Number(opts.warmup ?? 500));
  const runner = new InMemoryRunner({agent: makeLlmAgent('bench_agent'), appName: APP});
  const before = memSnapshot();
  let events = 0;
  const c0 = process.cpuUsage();   // (added by aio) CPU time of the run: robust on a loaded machine
  const t0 = process.hrtime.bigint();
  if (conc <= 1) {
    for (let i = 0; i < n; i++) events += await freshInvocation(runner);
  } else {
    // batches of `conc` invocations in flight at once: Promise.all over each batch
    for (let i = 0; i < n; i += conc) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + conc); j++) batch.push(freshInvocation(runner));
      for (const k of await Promise.all(batch)) events += k;
    }
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(c0);
  const hwmKb = procStatusKb('VmHWM');
  const after = memSnapshot();
  const kept = Object.keys(runner.sessionService.sessions[APP]?.[USER] ?? {}).length;
  return {
    workload: 'invoke', n, concurrency: conc, wall_s: round(wall, 3),
    invocations_per_s: round(n / wall, 1), events, events_per_s: round(events / wall, 1),
    cpu_s: round(cpu, 3), invocations_per_cpu_s: round(n / cpu, 1),
    sessions_kept: kept, events_per_session: 4,
    peak_rss_mb: round(hwmKb / 1024, 1), base_rss_mb: round(before.rss_kb / 1024, 1),
    rss_growth_per_session_b: Math.round((after.rss_kb - before.rss_kb) * 1024 / n),
    heap_growth_per_session_b: before.gc ? Math.round((after.heap_used - before.heap_used) / n) : null,
  };
}

async function fanout(opts) {
  const children = Number(opts.children ?? 1000);
  await warmup(Number(opts.warmup ?? 500));
  const before = memSnapshot();
  const tb = process.hrtime.bigint();
  const agent = makeFanoutAgent(children);
  const runner = new InMemoryRunner({agent, appName: APP});
  const build = Number(process.hrtime.bigint() - tb) / 1e9;
  const s = await runner.sessionService.createSession({appName: APP, userId: USER});
  let events = 0;
  const perChild = new Map();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let firstEvent = null;
  // RunConfig.maxLlmCalls defaults to 500 per invocation (as in ADK-python): 1,000 children
  // make 2,000 model calls, so the limit is raised to exactly what the workload needs.
  const runConfig = {maxLlmCalls: 2 * children};
  for await (const ev of runner.runAsync({userId: USER, sessionId: s.id, newMessage: userMessage(), runConfig})) {
    if (firstEvent === null) firstEvent = Number(process.hrtime.bigint() - t0) / 1e9;
    events++;
    perChild.set(ev.author, (perChild.get(ev.author) ?? 0) + 1);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(c0);
  const hwmKb = procStatusKb('VmHWM');
  if (events !== 3 * children || perChild.size !== children || [...perChild.values()].some((k) => k !== 3)) {
    throw new Error(`fanout: expected 3 events from each of ${children} children, got ${events} from ${perChild.size}`);
  }
  const stored = (await runner.sessionService.getSession({appName: APP, userId: USER, sessionId: s.id})).events.length;
  return {
    workload: 'fanout', children, wall_s: round(wall, 3), cpu_s: round(cpu, 3), build_s: round(build, 3),
    first_event_s: round(firstEvent, 4), events, events_per_s: round(events / wall, 1),
    session_events: stored, model_calls: 2 * children, max_llm_calls: runConfig.maxLlmCalls,
    peak_rss_mb: round(hwmKb / 1024, 1), base_rss_mb: round(before.rss_kb / 1024, 1),
  };
}

// Memory per stored session with a 20-event history: `sessions` sessions, each given
// `per-session` invocations (4 events each), round-robin (round r runs once in every session).
async function sessions(opts) {
  const count = Number(opts.sessions ?? 10000);
  const per = Number(opts['per-session'] ?? 5);
  await warmup(Number(opts.warmup ?? 500));
  const runner = new InMemoryRunner({agent: makeLlmAgent('bench_agent'), appName: APP});
  const before = memSnapshot();
  const t0 = process.hrtime.bigint();
  const ids = [];
  for (let i = 0; i < count; i++) {
    ids.push((await runner.sessionService.createSession({appName: APP, userId: USER})).id);
  }
  const tCreated = process.hrtime.bigint();
  let events = 0;
  for (let r = 0; r < per; r++) {
    for (const id of ids) events += await runOnce(runner, id);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const hwmKb = procStatusKb('VmHWM');
  const after = memSnapshot();
  const probe = await runner.sessionService.getSession({appName: APP, userId: USER, sessionId: ids[0]});
  return {
    workload: 'sessions', sessions: count, invocations_per_session: per,
    events_per_session: probe.events.length, wall_s: round(wall, 3),
    create_s: round(Number(tCreated - t0) / 1e9, 3),
    invocations_per_s: round(count * per / (Number(process.hrtime.bigint() - tCreated) / 1e9), 1),
    events,
    peak_rss_mb: round(hwmKb / 1024, 1), base_rss_mb: round(before.rss_kb / 1024, 1),
    end_rss_mb: round(after.rss_kb / 1024, 1),
    rss_per_session_b: Math.round((after.rss_kb - before.rss_kb) * 1024 / count),
    heap_per_session_b: before.gc ? Math.round((after.heap_used - before.heap_used) / count) : null,
  };
}

// persist (added by aio, not in the original definitions): the invoke workload with the
// sessions in SQLite through ADK's DatabaseSessionService (MikroORM + node-sqlite3), a fresh
// database file each run. Warm-up on the same database (separate sessions), so the schema
// creation and the ORM's first queries are not timed. Reported: invocations/s and events
// persisted per second (4 per invocation: the user message and the 3 agent events).
async function persist(opts) {
  const n = Number(opts.n ?? 10000);
  const conc = Number(opts.concurrency ?? 1);
  const db = opts.db ?? join(tmpdir(), `adk-ts-persist-${process.pid}.db`);
  rmSync(db, {force: true});
  const sessionService = new DatabaseSessionService(`sqlite://${db}`);
  const runner = new Runner({agent: makeLlmAgent('bench_agent'), appName: APP, sessionService});
  const warm = Number(opts.warmup ?? 500);
  for (let i = 0; i < warm; i++) await freshInvocation(runner);
  const before = memSnapshot();
  let events = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  if (conc <= 1) {
    for (let i = 0; i < n; i++) events += await freshInvocation(runner);
  } else {
    for (let i = 0; i < n; i += conc) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + conc); j++) batch.push(freshInvocation(runner));
      for (const k of await Promise.all(batch)) events += k;
    }
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(c0);
  const hwmKb = procStatusKb('VmHWM');
  const stored = (await runner.sessionService.listSessions({appName: APP, userId: USER})).sessions.length;
  await sessionService.orm?.close?.();
  if (!opts.db) rmSync(db, {force: true});
  return {
    workload: 'persist', n, concurrency: conc, wall_s: round(wall, 3),
    invocations_per_s: round(n / wall, 1), events, events_per_s: round(events / wall, 1),
    events_persisted_per_s: round(4 * n / wall, 1), cpu_s: round(cpu, 3), sessions_kept: stored - warm,
    peak_rss_mb: round(hwmKb / 1024, 1), base_rss_mb: round(before.rss_kb / 1024, 1),
  };
}

// (added by aio) user + system CPU seconds of this process (all threads) since `start`.
function cpuSeconds(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

function round(x, d) { const f = 10 ** d; return Math.round(x * f) / f; }

// --tracing retain: register an OpenTelemetry provider the way `adk api_server` does
// (ADK's maybeSetOtelProviders -> NodeTracerProvider with AsyncLocalStorage context, plus a
// SimpleSpanProcessor whose exporter keeps every span), to separate tracing cost from HTTP cost.
// Default: none (no provider: OpenTelemetry's no-op tracer, as in a plain ADK program).
class RetainingExporter {
  constructor() { this.spans = []; }
  export(spans, done) { this.spans.push(...spans); done({code: 0}); }
  forceFlush() { return Promise.resolve(); }
  shutdown() { return Promise.resolve(); }
}
async function setupTracing(mode) {
  if (!mode || mode === 'none') return;
  if (mode !== 'retain') throw new Error(`unknown --tracing ${mode}`);
  const {maybeSetOtelProviders} = await import('@google/adk');
  const {SimpleSpanProcessor} = await import('@opentelemetry/sdk-trace-base');
  maybeSetOtelProviders([{spanProcessors: [new SimpleSpanProcessor(new RetainingExporter())]}]);
}

const args = parseArgs(process.argv.slice(2));
const which = args._[0] ?? 'invoke';
await setupTracing(args.tracing);
setLogLevel?.(LogLevel.ERROR);   // the ParallelAgent deprecation warning would go to stderr
const fn = {invoke, fanout, sessions, persist}[which];
if (!fn) { console.error(`unknown workload ${which}`); process.exit(2); }
const res = await fn(args);
console.log(JSON.stringify({impl: 'adk-ts', adk: ADK_VERSION, node: process.version, ...res,
                            tracing: args.tracing ?? 'none',
                            cpus_available: availableParallelism(),
                            gc_exposed: typeof globalThis.gc === 'function'}));
