import { brainOpenApi, paymentOpenApi, userOpenApi } from '@meetmatt/contracts';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { operationId: string; parameters?: { name: string; in: string }[] }>
  >;
  components: { schemas: Record<string, unknown> };
};

function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe.each([
  ['payment', paymentOpenApi],
  ['user', userOpenApi],
  ['brain', brainOpenApi],
] as const)('the %s service OpenAPI document', (_name, build) => {
  const doc = build() as unknown as Doc;

  test('when generated, then it is OpenAPI 3.1 with unique operation ids', () => {
    expect(doc.openapi).toBe('3.1.0');
    const ids = Object.values(doc.paths).flatMap((methods) =>
      Object.values(methods).map((op) => op.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['healthz', 'readyz', 'metrics']));
  });

  test('when it references a schema, then the schema is in components', () => {
    for (const ref of refs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas).toHaveProperty(ref.replace('#/components/schemas/', ''));
    }
  });

  test('when a path has parameters, then each is documented as a path parameter', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(methods)) {
        const documented = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect([path, documented.sort()]).toEqual([path, [...names].sort()]);
      }
    }
  });
});
