import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { accessTokenDefaults } from '@meetmatt/contracts';

export * from './production-secrets';

/** One variable and what is wrong with it. */
export interface ConfigProblem {
  variable: string;
  problem: string;
}

/**
 * Raised when the environment does not satisfy a service's configuration schema. It lists every
 * variable that is wrong at once (an operator fixes them in one go, not one restart each), on
 * one line, so a process can print it and exit before it opens a port. `variable` and `problem`
 * are the first of `problems`.
 */
export class ConfigError extends Error {
  readonly variable: string;
  readonly problem: string;
  readonly problems: readonly ConfigProblem[];

  constructor(variable: string, problem: string);
  constructor(problems: readonly ConfigProblem[]);
  constructor(first: string | readonly ConfigProblem[], problem?: string) {
    const problems =
      typeof first === 'string' ? [{ variable: first, problem: problem ?? '' }] : first;
    const listed = problems.map((p) => `${p.variable} ${p.problem}`);
    super(`Invalid configuration: ${listed.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.variable = problems[0]?.variable ?? '(environment)';
    this.problem = problems[0]?.problem ?? 'invalid';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses the environment against a zod schema whose keys are the variable names.
 * Empty strings count as unset, so `FOO= npm start` falls back to the default.
 * Any variable may instead be given as `<NAME>_FILE`, the path of a file holding its value
 * (Docker and Kubernetes secrets are files); its trailing newline is dropped.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): z.infer<S> {
  const input: Env = {};
  const problems: ConfigProblem[] = [];
  for (const key of Object.keys(schema.shape)) {
    let value = env[key];
    if (value === undefined) {
      try {
        value = fromFile(key, env[`${key}_FILE`]);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.problems);
      }
    }
    input[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  const result = schema.safeParse(input);
  if (result.success && problems.length === 0) return result.data;
  const named = new Set(problems.map((p) => p.variable.replace(/_FILE$/, '')));
  for (const issue of result.success ? [] : result.error.issues) {
    const problem = problemOf(schema, input, issue);
    // A variable whose _FILE could not be read is already reported; its emptiness is no news.
    if (named.has(problem.variable)) continue;
    named.add(problem.variable);
    problems.push(problem);
  }
  throw new ConfigError(problems);
}

/** Only the first issue of each variable is reported (zod may find several in one value). */
function problemOf(schema: z.ZodObject, input: Env, issue: z.core.$ZodIssue): ConfigProblem {
  // A problem inside a parsed value (a JSON variable's keys.0.kty) names the variable, then where.
  const [first, ...inside] = issue.path.map(String);
  const variable = first ?? '(environment)';
  const given = input[variable];
  // Unset with a default: the default is what was refused (production refuses local defaults).
  const defaulted = schema.shape[variable] instanceof z.ZodDefault;
  const shown =
    given !== undefined
      ? `is ${describeValue(variable, given)}`
      : defaulted
        ? 'is not set (its local default)'
        : 'is missing';
  const where = inside.length ? `${inside.join('.')}: ` : '';
  return { variable, problem: `${shown}: ${where}${issue.message || 'invalid'}` };
}

/** The variables a schema reads, with the `_FILE` form of each. */
export function configVariables(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape).flatMap((key) => [key, `${key}_FILE`]);
}

function fromFile(variable: string, file: string | undefined): string | undefined {
  if (file === undefined || file.trim() === '') return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new ConfigError(
      `${variable}_FILE`,
      `is ${JSON.stringify(file)}: cannot read it (${code})`,
    );
  }
}

function describeValue(variable: string, value: string): string {
  if (/SECRET|KEY|PASSWORD|TOKEN/i.test(variable)) return '(hidden)';
  return JSON.stringify(withoutPassword(value));
}

/** A URL's password is a secret whatever the variable is called (DATABASE_URL, RABBITMQ_URL). */
function withoutPassword(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password) return value;
    url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/([^:/@\s]*):[^@\s]*@/, '//$1:***@');
  }
}

/** Reusable field parsers for configuration schemas. */
export const env = {
  port: (fallback: number) =>
    z.coerce
      .number({ message: 'expected a port number' })
      .int('expected a whole port number')
      .min(0, 'expected a port between 0 and 65535')
      .max(65535, 'expected a port between 0 and 65535')
      .default(fallback),
  url: (fallback?: string) =>
    fallback === undefined
      ? z.url({ message: 'expected a URL' })
      : z.url({ message: 'expected a URL' }).default(fallback),
  optionalUrl: () => z.url({ message: 'expected a URL' }).optional(),
  int: (fallback: number, min = 0) =>
    z.coerce
      .number({ message: 'expected a number' })
      .int('expected a whole number')
      .min(min, `expected at least ${min}`)
      .default(fallback),
  number: (fallback: number) => z.coerce.number({ message: 'expected a number' }).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  string: (fallback?: string) =>
    fallback === undefined ? z.string() : z.string().default(fallback),
  logLevel: () =>
    z.enum(['error', 'warn', 'info', 'http', 'debug', 'silent'], {
      message: 'expected one of error, warn, info, http, debug, silent',
    }),
  logFormat: () => z.enum(['json', 'pretty'], { message: 'expected json or pretty' }),
};

/** The settings every service shares; a service extends this with its own. */
export const baseServiceConfig = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: env.logLevel().default('info'),
  LOG_FORMAT: env.logFormat().optional(),
  RABBITMQ_URL: env.url('amqp://guest:guest@127.0.0.1:5672'),
  EVENTSTORE_URL: z
    .string()
    .regex(/^esdb(\+discover)?:\/\//, 'expected an esdb:// URL (unset means the service database)')
    .optional(),
  SHUTDOWN_TIMEOUT_MS: env.int(20_000, 1_000),
  READ_YOUR_WRITES_TIMEOUT_MS: env.int(2_000, 0),
  // Bounds on every wait (issue 15); documented in .env.example.
  DATABASE_STATEMENT_TIMEOUT_MS: env.int(10_000, 0),
  DATABASE_LOCK_TIMEOUT_MS: env.int(5_000, 0),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(30_000, 0),
  DATABASE_POOL_TIMEOUT_MS: env.int(3_000, 100),
  REQUEST_TIMEOUT_MS: env.int(15_000, 0),
  LIVENESS_STUCK_MS: env.int(30_000, 1_000),
  HOUSEKEEPING_INTERVAL_MS: env.int(3_600_000, 1_000),
  INBOX_RETENTION_MS: env.int(14 * 86_400_000, 60_000),
  /** The source commit, shown in `build_info{commit}` (set by the image build or deployment). */
  BUILD_COMMIT: z.string().max(64).optional(),
  /** A file for the bus's hop times (relay and consumers), read by `npm run bench -- flow`. */
  BUS_HOP_TRACE_FILE: z.string().optional(),
};

/** How a service that does not issue tokens verifies them (user-service's JWKS). */
export const authConfig = {
  AUTH_JWKS_URL: env.url('http://127.0.0.1:3002/.well-known/jwks.json'),
  AUTH_ISSUER: z.string().min(1).default(accessTokenDefaults.issuer),
  AUTH_AUDIENCE: z.string().min(1).default(accessTokenDefaults.audience),
  /**
   * The longest life of an access token user-service signs (the larger of its
   * ACCESS_TOKEN_TTL_SECONDS and API_KEY_TOKEN_TTL_SECONDS): revocations are kept that long, and
   * a token meant to live longer is refused.
   */
  ACCESS_TOKEN_MAX_TTL_SECONDS: env.int(
    Math.max(accessTokenDefaults.ttlSeconds, accessTokenDefaults.apiKeyTokenTtlSeconds),
    60,
  ),
};
