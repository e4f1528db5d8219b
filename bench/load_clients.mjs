// N MCP clients of the official TypeScript SDK (what Claude Desktop and the Inspector use) on
// streamable HTTP, all started at once; each lists the tools (as a host does on connecting),
// then makes M get_repair_job calls. Prints one JSON line: each session's set-up time and the
// latency of every call in seconds, and the wall time from the first call to the last.
// Usage: node load_clients.mjs SDK_DIR URL CLIENTS CALLS
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [sdkDir, url, clients, calls] = process.argv.slice(2);
const sdk = (p) => import(pathToFileURL(join(sdkDir, "dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const JOB = { external: "CCC-2026-04817" };
const now = () => performance.now() / 1000;

async function session() {
  const t0 = now();
  const client = new Client({ name: "load", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  await client.listTools();
  const setup = now() - t0;
  const latencies = [];
  const errors = [];
  for (let i = 0; i < Number(calls); i++) {
    const t = now();
    try {
      const r = await client.callTool({ name: "get_repair_job", arguments: { job: JOB } });
      if (r.isError) errors.push(JSON.stringify(r.structuredContent));
    } catch (e) {
      errors.push(String(e));
    }
    latencies.push(now() - t);
  }
  await client.close();
  return { setup, latencies, errors };
}

const started = now();
const sessions = await Promise.all(Array.from({ length: Number(clients) }, session));
console.log(JSON.stringify({ elapsed: now() - started, sessions }));
