import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = [
  '/usr/sbin/nginx',
  '/usr/local/sbin/nginx',
  '/usr/local/bin/nginx',
  '/opt/homebrew/bin/nginx',
];

function onPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

export function findNginx(): string | undefined {
  return onPath() ?? CANDIDATES.find((p) => existsSync(p));
}

/**
 * nginx, installed from Debian's package when it is missing and we may (root with apt-get);
 * otherwise one clear message on how to get it.
 */
export function ensureNginx(log: (line: string) => void): string {
  const existing = findNginx();
  if (existing) return existing;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (root && apt) {
    log('nginx is missing; installing it from Debian (apt-get install nginx-light)...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let result = spawnSync('apt-get', ['install', '-y', '-q', 'nginx-light'], {
      stdio: 'ignore',
      env,
    });
    if (result.status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
      result = spawnSync('apt-get', ['install', '-y', '-q', 'nginx-light'], {
        stdio: 'ignore',
        env,
      });
    }
    const installed = findNginx();
    if (result.status === 0 && installed) return installed;
  }
  throw new Error(
    [
      'nginx (the gateway) is not installed and could not be installed here. Either:',
      '  - on Debian/Ubuntu: sudo apt-get install nginx-light',
      '  - on macOS: brew install nginx',
      '  - with Docker: docker compose up -d --build (the gateway is the nginx service)',
    ].join('\n'),
  );
}
