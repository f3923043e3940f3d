import { type z } from 'zod';

/**
 * Values anyone can read in this repository or in a default install: the broker's and the
 * database's stock passwords and the placeholders people leave in. A service given one of them
 * outside development is running with a secret that is not a secret.
 */
export const WELL_KNOWN_SECRET_VALUES: readonly string[] = [
  'guest',
  'postgres',
  'password',
  'changeme',
  'change-me',
  'secret',
  'admin',
  'root',
  'test',
  'example',
];

/** Users that mean "not this service's own account": the stock superuser and the broker's guest. */
const SHARED_ACCOUNTS = new Set(['guest', 'postgres', 'root', 'admin']);

export interface ProductionSecretRules {
  /** Variables that must be set in production (a secret, or a URL carrying one). */
  required?: readonly string[];
  /** Secret values that must not be one of `refused` nor a well-known one. */
  secrets?: readonly string[];
  /**
   * URL variables whose credentials must be the service's own: a password that is set and not
   * a well-known one, and a user that is not a shared account (guest, postgres).
   */
  credentialUrls?: readonly string[];
  /** This service's sandbox and development values (the sandbox IPN secret, the Devin key…). */
  refused?: readonly string[];
}

export interface SecretIssue {
  variable: string;
  message: string;
}

type Values = Record<string, unknown>;

function present(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/**
 * What is wrong with a production configuration's secrets, one issue per variable. Values are
 * compared, never printed: an issue names the variable and what kind of value it holds.
 */
export function productionSecretIssues(
  config: Values,
  rules: ProductionSecretRules,
): SecretIssue[] {
  const refused = new Set([...(rules.refused ?? []), ...WELL_KNOWN_SECRET_VALUES]);
  const isRefused = (value: string) =>
    refused.has(value.trim()) || refused.has(value.trim().toLowerCase());
  const issues: SecretIssue[] = [];
  const seen = new Set<string>();
  const add = (variable: string, message: string) => {
    if (seen.has(variable)) return;
    seen.add(variable);
    issues.push({ variable, message });
  };

  for (const variable of rules.required ?? []) {
    if (!present(config[variable]))
      add(
        variable,
        'required when NODE_ENV=production (the local default is for development only)',
      );
  }
  for (const variable of rules.secrets ?? []) {
    const value = config[variable];
    if (present(value) && isRefused(value))
      add(
        variable,
        'is a sandbox or well-known value, refused when NODE_ENV=production: set the real secret',
      );
  }
  for (const variable of rules.credentialUrls ?? []) {
    const value = config[variable];
    if (!present(value)) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue; // the schema reports a malformed URL itself
    }
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (!password) {
      add(
        variable,
        'has no password, refused when NODE_ENV=production: use the service’s own account',
      );
    } else if (isRefused(password)) {
      add(
        variable,
        'has a default or well-known password, refused when NODE_ENV=production: use the service’s own account',
      );
    } else if (!user || SHARED_ACCOUNTS.has(user.toLowerCase())) {
      add(
        variable,
        `connects as a shared account (${user || 'none'}), refused when NODE_ENV=production: use the service’s own account`,
      );
    }
  }
  return issues;
}

/**
 * For a config schema's superRefine: under NODE_ENV=production, reports every secret issue on
 * its variable, so the service refuses to start before it opens a port.
 */
export function refuseUnsafeProductionSecrets(
  config: Values,
  ctx: z.RefinementCtx,
  rules: ProductionSecretRules,
): void {
  if (config.NODE_ENV !== 'production') return;
  for (const issue of productionSecretIssues(config, rules))
    ctx.addIssue({ code: 'custom', path: [issue.variable], message: issue.message });
}
