import path from 'node:path';
import { build } from 'esbuild';

const clientEntry = path.resolve(__dirname, '..', '..', '..', 'client', 'src', 'index.ts');

/**
 * @meetmatt/client must run in a browser: bundled for one, it may load the contracts, zod and
 * infra's pure backoff, nothing of Node.js (esbuild refuses a `node:` built-in for the browser
 * platform) and none of the services' I/O libraries.
 */
describe('@meetmatt/client bundled for a browser', () => {
  test('when esbuild bundles it for the browser platform, then it builds and loads only the contracts, zod and the shared backoff', async () => {
    const result = await build({
      entryPoints: [clientEntry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const packages = new Set(
      inputs.map((input) => {
        const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
        return match ? match[1]! : input.split('/')[0]!;
      }),
    );
    expect([...packages].sort()).toEqual(['client', 'contracts', 'infra', 'zod']);
    expect(inputs.filter((i) => i.startsWith('infra/'))).toEqual(['infra/src/runtime/backoff.ts']);
    expect(result.outputFiles[0]!.text).not.toMatch(/\brequire\(/);
  });
});
