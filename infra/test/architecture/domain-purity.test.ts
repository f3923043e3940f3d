import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

// The domain layer is pure (ARCHITECTURE.md, "Layers"): what a decider loads, and the lint rule
// (eslint.config.mjs, block `domain-purity`) that refuses an import with I/O under src/domain/.

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

// Every service's deciders (`src/domain/*-decide.ts`), found on disk so a new one is covered.
const deciderFiles = fs
  .readdirSync(root)
  .filter((dir) => fs.existsSync(path.join(root, dir, 'src/domain')))
  .flatMap((dir) =>
    fs
      .readdirSync(path.join(root, dir, 'src/domain'))
      .filter((file) => file.endsWith('-decide.ts'))
      .map((file) => path.join(root, dir, 'src/domain', file)),
  );

/** The modules each file loads in a fresh process (beyond those loaded before it). */
async function modulesLoadedBy(files: string[]): Promise<Record<string, string[]>> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'load-modules.js'), ...files],
    { cwd: root },
  );
  return JSON.parse(stdout) as Record<string, string[]>;
}

const relative = (module: string) => path.relative(root, module);
/** What a decider may load: domain folders, the contracts, and zod (the contracts' schemas). */
const pure = (module: string) =>
  /^[^/]+\/src\/domain\//.test(module) ||
  module.startsWith('contracts/src/') ||
  module.startsWith('node_modules/zod/');

describe('a decider loads nothing with I/O', () => {
  // One fresh process: payment-decide.ts first (what it loads is what it loads alone), then
  // every other decider (what each adds).
  const paymentDecide = path.join(root, 'payment-service/src/domain/payment-decide.ts');
  let loadedBy: Record<string, string[]>;
  beforeAll(async () => {
    loadedBy = await modulesLoadedBy([
      paymentDecide,
      ...deciderFiles.filter((file) => file !== paymentDecide),
    ]);
  }, 20_000);

  test('when payment-decide.ts is required in a fresh process, then it loads the kernel, the contracts and zod, and none of pg, amqplib, express, winston', () => {
    const loaded = loadedBy[paymentDecide]!.map(relative);
    expect(loaded.filter((module) => !pure(module))).toEqual([]);
    expect(loaded).toContain('infra/src/domain/decider.ts');
    for (const io of ['pg', 'amqplib', 'express', 'winston', 'kysely', '@eventstore'])
      expect(loaded.filter((module) => module.startsWith(`node_modules/${io}/`))).toEqual([]);
    // 1,040-odd modules when the deciders took `domainError` from the infra barrel.
    expect(loaded.length).toBeLessThan(200);
  });

  test('when every service’s deciders are required, then none loads anything outside the domain, the contracts and zod', () => {
    expect(deciderFiles.length).toBeGreaterThanOrEqual(7);
    expect(Object.keys(loadedBy)).toHaveLength(deciderFiles.length);
    const impure = Object.entries(loadedBy).flatMap(([file, modules]) =>
      modules
        .map(relative)
        .filter((module) => !pure(module))
        .map((module) => `${relative(file)} → ${module}`),
    );
    expect(impure).toEqual([]);
  });
});

describe('the lint rule that keeps src/domain pure', () => {
  const lint = async (snippets: { filename: string; code: string }[]) => {
    const child = run(process.execPath, [path.join(__dirname, 'lint-domain.mjs')], { cwd: root });
    child.child.stdin!.end(JSON.stringify(snippets));
    const { stdout } = await child;
    return JSON.parse(stdout) as { files: string[]; results: string[][] };
  };

  test('when a domain file imports the infra barrel, node I/O, pg, amqplib, express, winston or another layer, then each import is an error; the kernel, the contracts and domain files are not', async () => {
    const refused = [
      "import { domainError } from '@meetmatt/infra';",
      "import { createTestDatabase } from '@meetmatt/infra/testing';",
      "import fs from 'node:fs';",
      "import net from 'node:net';",
      "import { Pool } from 'pg';",
      "import amqp from 'amqplib';",
      "import express from 'express';",
      "import winston from 'winston';",
      "import { findPayment } from '../application/payments';",
      "import { type PaymentRow } from '../projections/payment-queries';",
    ];
    const allowed = [
      "import { type Decider, domainError } from '@meetmatt/infra/domain';",
      "import { deciderSpec } from '@meetmatt/infra/domain/testing';",
      "import { paymentEvents } from '@meetmatt/contracts';",
      "import { createHash } from 'node:crypto';",
      "import { movesForward } from './payment';",
    ];
    const inTest = [
      "import { movesForward } from '../../src/domain/payment';",
      "import { findPayment } from '../../src/application/payments';",
      "import { world } from '../support/world';",
    ];
    const { files, results } = await lint([
      ...[...refused, ...allowed].map((code) => ({
        filename: 'payment-service/src/domain/probe.ts',
        code,
      })),
      ...inTest.map((code) => ({ filename: 'payment-service/test/domain/probe.test.ts', code })),
    ]);
    expect(files).toEqual(['*/src/domain/**/*.ts', '*/test/domain/**/*.ts']);
    const errors = results.map((messages) => messages.length);
    expect(errors).toEqual([
      ...refused.map(() => 1),
      ...allowed.map(() => 0),
      0, // a test reads the domain it tests
      1,
      1,
    ]);
    expect(results[0]![0]).toMatch(/^no-restricted-imports: .*nothing with I\/O/);
  }, 20_000);
});
