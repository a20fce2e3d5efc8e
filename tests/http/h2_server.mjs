// tests/http/h2_server.mjs — a real HTTP/2 server for test_client_http2.cpp,
// on node's built-in `http2` module (nghttp2; no npm package).
//
//   node h2_server.mjs                       h2c (cleartext, prior knowledge)
//   node h2_server.mjs --tls CERT KEY        TLS, ALPN "h2" only (no HTTP/1.1)
//
// Listens on 127.0.0.1, a free port, and prints one line on stdout once it
// accepts connections: "listening on http://127.0.0.1:PORT" (https with
// --tls). SIGTERM, SIGINT or the end of stdin stop it.
//
// Every response carries `x-session` (the number of the HTTP/2 session, i.e.
// of the connection, 1, 2...) and `x-stream` (the stream id). Routes:
//   /hello                     "hello over h2\n"
//   /stats                     text, a line each: "sessions N" (opened),
//                              "open_sessions N", "streams N",
//                              "max_open_streams N" (the most open at once on
//                              one session), then "reset PATH CODE" for each
//                              stream the client reset (RST_STREAM)
//   /barrier?key=K&n=N         answers only once N requests for K are open at
//                              the same time (proves concurrency), "released K"
//   /gated?key=K&n=N           sends "chunk 0\n", then "chunk i\n" each time
//                              /release?key=K is requested, ends after N chunks
//   /release?key=K             lets /gated K send its next chunk
//   /endless                   "tick i\n" every 10 ms until the client resets
//   /wait-reset?n=N            answers (the /stats text) once N streams were
//                              reset by the client
//   /die?how=destroy|goaway    sends "partial\n", then destroys the session
//                              (socket closed) or sends GOAWAY(INTERNAL_ERROR)
//                              and closes it
import fs from 'node:fs';
import http2 from 'node:http2';

const args = process.argv.slice(2);
const tls = args[0] === '--tls';
const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

const stats = { sessions: 0, openSessions: 0, streams: 0, maxOpenStreams: 0, resets: [] };
const barriers = new Map();   // key -> [stream...]
const gates = new Map();      // key -> {stream, sent, n}
const resetWaiters = [];      // {n, stream}

const server = tls
  ? http2.createSecureServer({ cert: fs.readFileSync(args[1]), key: fs.readFileSync(args[2]), allowHTTP1: false })
  : http2.createServer();

server.on('session', (session) => {
  session.number = ++stats.sessions;
  session.open = 0;
  stats.openSessions++;
  session.on('close', () => stats.openSessions--);
  session.on('error', () => {});
});

function head(stream, extra = {}) {
  return {
    ':status': 200,
    'content-type': 'text/plain',
    'x-session': String(stream.session.number),
    'x-stream': String(stream.id),
    ...extra,
  };
}

function reply(stream, body, extra = {}) {
  if (stream.destroyed || stream.closed) return;
  stream.respond(head(stream, extra));
  stream.end(body);
}

// One "name value" line per counter, then "reset PATH CODE" per reset stream.
function statsText() {
  let out = `sessions ${stats.sessions}\nopen_sessions ${stats.openSessions}\n` +
            `streams ${stats.streams}\nmax_open_streams ${stats.maxOpenStreams}\n`;
  for (const r of stats.resets) out += `reset ${r.path} ${r.code}\n`;
  return out;
}

function wakeResetWaiters() {
  for (let i = resetWaiters.length - 1; i >= 0; i--) {
    if (stats.resets.length >= resetWaiters[i].n) {
      reply(resetWaiters[i].stream, statsText());
      resetWaiters.splice(i, 1);
    }
  }
}

server.on('stream', (stream, headers) => {
  const session = stream.session;
  const url = new URL(headers[':path'], 'http://x');
  const path = url.pathname;
  const q = (name, fallback) => url.searchParams.get(name) ?? fallback;
  stats.streams++;
  session.open++;
  stats.maxOpenStreams = Math.max(stats.maxOpenStreams, session.open);
  stream.on('error', () => {});
  stream.on('close', () => {
    session.open--;
    // Reset by the client (RST_STREAM with an error code: curl sends
    // STREAM_CLOSED, 5, for a transfer it drops), not killed by /die.
    if (stream.rstCode !== 0 && !session.dying) {
      stats.resets.push({ path, code: stream.rstCode });
      wakeResetWaiters();
    }
  });

  switch (path) {
    case '/hello':
      reply(stream, 'hello over h2\n');
      break;
    case '/stats':
      reply(stream, statsText());
      break;
    case '/barrier': {
      const key = q('key', '');
      const n = Number(q('n', '1'));
      const waiting = barriers.get(key) ?? [];
      barriers.set(key, waiting);
      waiting.push(stream);
      stream.on('close', () => {
        const i = waiting.indexOf(stream);
        if (i >= 0) waiting.splice(i, 1);
      });
      if (waiting.length >= n) {
        barriers.delete(key);
        for (const s of waiting.splice(0)) reply(s, `released ${key}`);
      }
      break;
    }
    case '/gated': {
      const key = q('key', '');
      const gate = { stream, sent: 1, n: Number(q('n', '3')) };
      gates.set(key, gate);
      stream.on('close', () => { if (gates.get(key) === gate) gates.delete(key); });
      stream.respond(head(stream));
      stream.write('chunk 0\n');
      break;
    }
    case '/release': {
      const key = q('key', '');
      const gate = gates.get(key);
      if (!gate || gate.stream.destroyed) {
        stream.respond({ ':status': 404 });
        stream.end(`no gate ${key}\n`);
        break;
      }
      const i = gate.sent++;
      if (gate.sent >= gate.n) {
        gates.delete(key);
        gate.stream.end(`chunk ${i}\n`);
      } else {
        gate.stream.write(`chunk ${i}\n`);
      }
      reply(stream, `released ${i}\n`);
      break;
    }
    case '/endless': {
      stream.respond(head(stream));
      let i = 0;
      const timer = setInterval(() => {
        if (stream.destroyed || stream.closed) return clearInterval(timer);
        stream.write(`tick ${i++}\n`);
      }, 10);
      stream.on('close', () => clearInterval(timer));
      stream.write(`tick ${i++}\n`);
      break;
    }
    case '/wait-reset':
      resetWaiters.push({ n: Number(q('n', '1')), stream });
      wakeResetWaiters();
      break;
    case '/die': {
      const how = q('how', 'destroy');
      stream.respond(head(stream));
      stream.write('partial\n', () => {
        // Give the chunk a moment to leave, then kill the whole session.
        setTimeout(() => {
          session.dying = true;
          if (how === 'goaway') {
            session.goaway(NGHTTP2_INTERNAL_ERROR, 0);
            setTimeout(() => session.destroy(), 20);
          } else {
            session.destroy();
          }
        }, 20);
      });
      break;
    }
    default:
      stream.respond({ ':status': 404 });
      stream.end(`no route ${path}\n`);
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`listening on ${tls ? 'https' : 'http'}://127.0.0.1:${port}\n`);
});

const stop = () => {
  for (const [, waiting] of barriers) for (const s of waiting) s.destroy();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
