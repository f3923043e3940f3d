import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const doc = fs.readFileSync(path.join(root, 'ARCHITECTURE.md'), 'utf8');

const topFolders = new Set(
  fs
    .readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'node_modules')
    .map((entry) => entry.name),
);
const fileName = /^[\w.-]+\.(ts|js|mjs|md|json|ya?ml|sh|conf|template)$/;

/**
 * The backticked names in the document that name something in this repository: a path under a
 * top-level folder (`infra/src/…`), or a file at the root (`README.md`). Event types, URLs,
 * placeholders (`<queue>.failures`) and `../shared/…` are not paths here.
 */
function namedPaths(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  const names = [...prose.matchAll(/`([^`\s]+)`/g)].map((match) => match[1]!);
  return [
    ...new Set(
      names.filter((name) => {
        if (!/^[\w./-]+$/.test(name) || name.startsWith('/') || name.startsWith('.')) return false;
        return name.includes('/') ? topFolders.has(name.split('/')[0]!) : fileName.test(name);
      }),
    ),
  ];
}

describe('ARCHITECTURE.md', () => {
  test('when it names a path of the repository in backticks, then that path exists', () => {
    const paths = namedPaths(doc);
    // The document explains the code by where it lives: far fewer than this means the check
    // stopped finding them, not that the document got shorter.
    expect(paths.length).toBeGreaterThan(40);
    expect(paths.filter((name) => !fs.existsSync(path.join(root, name)))).toEqual([]);
  });

  test('when a name is an event type, a URL or a placeholder, then it is not taken for a path', () => {
    expect(
      namedPaths(
        '`payment.confirmed` `/healthz` `<queue>.failures` `../shared/ARCHITECTURE.md` `infra/src/x.ts` `README.md`',
      ),
    ).toEqual(['infra/src/x.ts', 'README.md']);
  });

  test('when the README speaks of the architecture, then it links the one in the repository', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain('](ARCHITECTURE.md)');
  });

  test('when it draws the payment and deploy flows, then both are mermaid sequence diagrams', () => {
    const diagrams = [...doc.matchAll(/```mermaid\n(sequenceDiagram[\s\S]*?)```/g)].map(
      (match) => match[1]!,
    );
    expect(diagrams).toHaveLength(2);
    expect(diagrams[0]).toContain('POST /webhooks/nowpayments');
    expect(diagrams[1]).toContain('agent.deploy-requested');
  });
});
