/**
 * `npm run bench -- verify`: requests per second of user-service's GET /auth/verify (the
 * gateway's auth_request, on the path of every API call) for a valid JWT and for an API key,
 * against a bare express handler answering 200 measured in the same run, over real HTTP with
 * keep-alive connections. The load comes from a child process (its own CPU time, not counted
 * against the servers, which run in this one); short rounds alternate baseline, JWT and API key
 * so that a busy neighbour on the machine hurts all three alike, and medians are kept. The CPU
 * time this process spends per request is reported beside it: it is what the handler costs,
 * and it moves much less than throughput when the machine is shared.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import express from 'express';
import { createTestDatabase, createTestVhost } from '@meetmatt/infra/testing';
import { start } from '@meetmatt/user-service';
import { type BenchReport } from './harness';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2_000);
const WARMUP_MS = 500;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

interface LoadResult {
  ok: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
  /** CPU time of this process (the servers) per successful request, microseconds. */
  cpuMicros: number;
}

/** An autocannon-like loop: `connections` keep-alive connections, each sending back to back. */
const LOAD_PROCESS = `
const http = require('node:http');
const { url, headers, connections, durationMs, warmupMs } = JSON.parse(process.argv[1]);
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
let ok = 0, failed = 0, counting = false, stopping = false;
const latencies = [];
function once() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      { agent, hostname: target.hostname, port: target.port, path: target.pathname, headers },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (counting) {
            if (res.statusCode === 200) ok++; else failed++;
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          }
          resolve();
        });
      },
    );
    req.on('error', () => { if (counting) failed++; resolve(); });
    req.end();
  });
}
async function loop() { while (!stopping) await once(); }
const loops = Array.from({ length: connections }, loop);
setTimeout(() => {
  counting = true;
  process.stdout.write('start\\n');
  const t0 = process.hrtime.bigint();
  setTimeout(async () => {
    counting = false;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    stopping = true;
    await Promise.all(loops);
    agent.destroy();
    latencies.sort((a, b) => a - b);
    const at = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : 0;
    process.stdout.write(JSON.stringify({ ok, failed, seconds, p50: at(0.5), p99: at(0.99) }) + '\\n');
  }, durationMs);
}, warmupMs);
`;

function load(url: string, headers: Record<string, string>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const options = {
      url,
      headers,
      connections: CONNECTIONS,
      durationMs: DURATION_MS,
      warmupMs: WARMUP_MS,
    };
    const child = spawn(process.execPath, ['-e', LOAD_PROCESS, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    let cpuAtStart: NodeJS.CpuUsage | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (!cpuAtStart && output.includes('start\n')) cpuAtStart = process.cpuUsage();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const cpu = process.cpuUsage(cpuAtStart);
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line || !cpuAtStart) {
        reject(new Error(`load generator exited with ${code}: ${output}`));
        return;
      }
      const result = JSON.parse(line) as Omit<LoadResult, 'cpuMicros'>;
      resolve({ ...result, cpuMicros: (cpu.user + cpu.system) / Math.max(1, result.ok) });
    });
  });
}

async function baselineServer(): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.get('/auth/verify', (_req, res) => {
    res.sendStatus(200);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/auth/verify`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function post(url: string, body: unknown, authorization?: string): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

export default async function bench(): Promise<BenchReport> {
  const [database, vhost] = await Promise.all([
    createTestDatabase('bench_verify'),
    createTestVhost('bench_verify'),
  ]);
  // The gateway's secret: /auth/verify answers nobody else.
  const gatewaySecret = randomBytes(32).toString('base64url');
  const fromGateway = { 'x-gateway-secret': gatewaySecret };
  const service = await start({
    env: {
      GATEWAY_SHARED_SECRET: gatewaySecret,
      PORT: '0',
      DATABASE_URL: database.url,
      RABBITMQ_URL: vhost.url,
      // One log line per request would measure the console, not the handler.
      LOG_LEVEL: 'warn',
      PASSWORD_SCRYPT_LOG_N: '10',
    },
  });
  const baseline = await baselineServer();
  try {
    const registered = (await post(`${service.url}/auth/register`, {
      email: `bench-${Date.now()}@example.com`,
      password: 'benchmark-password-1',
    })) as { user: { id: string }; accessToken: string };
    const authorization = `Bearer ${registered.accessToken}`;
    const key = (await post(
      `${service.url}/users/${registered.user.id}/api-keys`,
      { name: 'bench' },
      authorization,
    )) as { key: string };
    const verifyUrl = `${service.url}/auth/verify`;

    const runs = {
      baseline: [] as LoadResult[],
      jwt: [] as LoadResult[],
      apiKey: [] as LoadResult[],
    };
    for (let round = 0; round < ROUNDS; round++) {
      runs.baseline.push(await load(baseline.url, { ...fromGateway, authorization }));
      runs.jwt.push(await load(verifyUrl, { ...fromGateway, authorization }));
      runs.apiKey.push(await load(verifyUrl, { ...fromGateway, 'x-api-key': key.key }));
    }
    for (const [name, results] of Object.entries(runs)) {
      const failed = results.reduce((n, r) => n + r.failed, 0);
      if (failed > 0) throw new Error(`${name}: ${failed} requests did not answer 200`);
    }

    const rate = (r: LoadResult) => r.ok / r.seconds;
    const median = (results: LoadResult[]) =>
      [...results].sort((a, b) => rate(a) - rate(b))[Math.floor(results.length / 2)]!;
    const fmt = (results: LoadResult[]) =>
      results.map((r) => Math.round(rate(r)).toLocaleString('en-US')).join(' / ');
    const row = (label: string, results: LoadResult[]) => {
      const m = median(results);
      return {
        label,
        'per second': Math.round(rate(m)),
        'p50 ms': Math.round(m.p50 * 100) / 100,
        'p99 ms': Math.round(m.p99 * 100) / 100,
        'CPU µs/req': Math.round(
          [...results].map((r) => r.cpuMicros).sort((a, b) => a - b)[
            Math.floor(results.length / 2)
          ]!,
        ),
        runs: fmt(results),
      };
    };
    const pairedRatio = (results: LoadResult[]) => {
      const ratios = results.map((r, i) => rate(r) / rate(runs.baseline[i]!)).sort((a, b) => a - b);
      return ratios[Math.floor(ratios.length / 2)]!;
    };
    const jwt = rate(median(runs.jwt));
    const apiKey = rate(median(runs.apiKey));
    const base = rate(median(runs.baseline));
    return {
      name: 'verify',
      unit: 'requests/s',
      ours: Math.min(jwt, apiKey),
      baseline: base,
      rows: [
        row('GET /auth/verify, valid JWT (median)', runs.jwt),
        row('GET /auth/verify, API key (median)', runs.apiKey),
        row('baseline: bare express handler answering 200', runs.baseline),
      ],
      notes: [
        `${CONNECTIONS} keep-alive connections from a separate process, ${DURATION_MS / 1000} s per run after ${WARMUP_MS / 1000} s of warm-up, ${ROUNDS} rounds alternating baseline, JWT and API key.`,
        `Ratios of the medians: JWT ${(jwt / base).toFixed(3)}, API key ${(apiKey / base).toFixed(3)}; the headline is the lower of the two. Target: 0.8 (issue 17).`,
        `Ratios round by round (each against the baseline run just before it), median: JWT ${pairedRatio(runs.jwt).toFixed(3)}, API key ${pairedRatio(runs.apiKey).toFixed(3)}.`,
        'The service runs whole (projections, relay, consumers, usage counting) at LOG_LEVEL=warn.',
      ],
    };
  } finally {
    await baseline.close();
    await service.stop();
    await Promise.all([database.drop(), vhost.drop()]);
  }
}
