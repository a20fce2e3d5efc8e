// The official MCP TypeScript SDK client doing what bench/mcp_bench.cpp does:
// tools/call `echo` on server-everything over stdio, sequential then with
// IN_FLIGHT calls at once.
//   node mcp_ts_client.mjs PEERS_DIR NODE EVERYTHING_JS [CALLS] [IN_FLIGHT]
import { pathToFileURL } from "node:url";

const [peers, node, server, callsArg, inFlightArg] = process.argv.slice(2);
const sdk = (p) => pathToFileURL(`${peers}/node_modules/@modelcontextprotocol/sdk/dist/esm/${p}`).href;
const { Client } = await import(sdk("client/index.js"));
const { StdioClientTransport } = await import(sdk("client/stdio.js"));
const calls = Number(callsArg ?? 5000);
const inFlight = Number(inFlightArg ?? 16);

const client = new Client({ name: "ts-bench", version: "0" });
await client.connect(new StdioClientTransport({ command: node, args: [server, "stdio"], stderr: "ignore" }));

async function oneCall(i) {
  const r = await client.callTool({ name: "echo", arguments: { message: `m${i}` } });
  if (r.content[0].text !== `Echo: m${i}`) throw new Error("bad answer");
}

for (let i = 0; i < 500; i++) await oneCall(i);

const cpu = (c) => { const u = process.cpuUsage(c); return u.user + u.system; };
let t0 = performance.now();
let c0 = process.cpuUsage();
for (let i = 0; i < calls; i++) await oneCall(i);
const seq = calls / ((performance.now() - t0) / 1000);
const seqCpu = cpu(c0) / calls;

let next = 0;
t0 = performance.now();
c0 = process.cpuUsage();
await Promise.all(Array.from({ length: inFlight }, async () => {
  while (next < calls) await oneCall(next++);
}));
const conc = calls / ((performance.now() - t0) / 1000);
const concCpu = cpu(c0) / calls;

await client.close();
console.log(JSON.stringify({ client: "ts-sdk", calls, in_flight: inFlight,
  sequential_rps: Math.round(seq), concurrent_rps: Math.round(conc),
  sequential_cpu_us_per_call: Math.round(seqCpu * 10) / 10, concurrent_cpu_us_per_call: Math.round(concCpu * 10) / 10 }));
