import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type JsonObject = Record<string, unknown>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  /** Literal segments: `/payments/plans` beats `/payments/{id}` for the same path. */
  literals: number;
  pointer: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

/** One response the document does not describe, or whose body its schema refuses. */
export interface Mismatch {
  method: string;
  path: string;
  status: number;
  reason: string;
}

export interface OpenApiChecker {
  /** `fetch` that checks every response it returns against the document (and throws on a mismatch). */
  fetch: typeof fetch;
  /** Every mismatch seen, including those a caller's retry may have swallowed. */
  mismatches: Mismatch[];
  /** How many responses were checked, by `METHOD template status`. */
  checked: Map<string, number>;
}

const escapePointer = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Matches each response to an operation of an OpenAPI 3.1 document (path template, method,
 * status) and validates a JSON body against that response's schema with ajv (JSON Schema
 * 2020-12, formats checked). A response the document does not describe is a mismatch naming the
 * method, the path and the status.
 */
export function openApiChecker(
  document: JsonObject,
  base: typeof fetch = globalThis.fetch,
): OpenApiChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: 'urn:meetmatt:openapi' });
  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (pointer: string): ValidateFunction => {
    let validate = validators.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `urn:meetmatt:openapi#${pointer}` });
      validators.set(pointer, validate);
    }
    return validate;
  };

  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(document.paths as Record<string, JsonObject>)) {
    const segments = template.split('/');
    const pattern = new RegExp(
      `^${segments.map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`,
    );
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        method,
        template,
        pattern,
        literals: segments.filter((s) => s && !s.startsWith('{')).length,
        pointer: `/paths/${escapePointer(template)}/${method}`,
        responses: (operation as JsonObject).responses as Operation['responses'],
      });
    }
  }

  const mismatches: Mismatch[] = [];
  const checked = new Map<string, number>();

  const check = async (method: string, path: string, res: Response): Promise<string | null> => {
    const operation = operations
      .filter((op) => op.method === method && op.pattern.test(path))
      .sort((a, b) => b.literals - a.literals)[0];
    if (!operation) return 'no operation of the document has this method and path';
    const status = String(res.status);
    const key = [status, `${status[0]}XX`, 'default'].find((k) => operation.responses[k]);
    if (!key) return `${operation.template} describes no ${status} response`;
    checked.set(
      `${method.toUpperCase()} ${operation.template} ${status}`,
      (checked.get(`${method.toUpperCase()} ${operation.template} ${status}`) ?? 0) + 1,
    );
    const content = operation.responses[key]!.content;
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!content) {
      const text = await res.clone().text();
      return text ? `${status} is described without a body, but a ${type} body came` : null;
    }
    if (!(type in content))
      return `${status} is described as ${Object.keys(content).join(' or ')}, but ${type || 'no content type'} came`;
    const schema = content[type]!.schema;
    if (!schema || !/[/+]json$/.test(type)) return null;
    const text = await res.clone().text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `${status} ${type} body is not JSON: ${text.slice(0, 120)}`;
    }
    const validate = validatorFor(
      `${operation.pointer}/responses/${key}/content/${escapePointer(type)}/schema`,
    );
    if (validate(body)) return null;
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
      .join('; ');
    return `${status} body does not match the schema: ${errors}; body ${text.slice(0, 300)}`;
  };

  const checkedFetch: typeof fetch = async (input, init) => {
    const res = await base(input, init);
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : input instanceof URL ? input.href : input);
    const method = (init?.method ?? request?.method ?? 'GET').toLowerCase();
    const reason = await check(method, url.pathname, res);
    if (reason) {
      const mismatch = {
        method: method.toUpperCase(),
        path: url.pathname,
        status: res.status,
        reason,
      };
      mismatches.push(mismatch);
      throw new Error(`OpenAPI: ${mismatch.method} ${mismatch.path} ${mismatch.status}: ${reason}`);
    }
    return res;
  };

  return { fetch: checkedFetch, mismatches, checked };
}
