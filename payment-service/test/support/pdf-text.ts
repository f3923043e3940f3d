import { execFile } from 'node:child_process';

/**
 * pdf-parse (pdf.js inside) reads the document in a plain Node process: pdf.js loads its worker
 * with a dynamic import of an ES module, which jest's CommonJS sandbox cannot do.
 */
const SCRIPT = `
const { PDFParse } = require('pdf-parse');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  const parser = new PDFParse({ data: new Uint8Array(Buffer.concat(chunks)) });
  try {
    process.stdout.write(JSON.stringify((await parser.getText()).text));
  } finally {
    await parser.destroy();
  }
});
`;

/** The text a PDF reader extracts from the document, in reading order. */
export function pdfText(bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', SCRIPT],
      { cwd: __dirname, maxBuffer: 16 * 1024 * 1024, timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`pdf-parse failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as string);
      },
    );
    child.stdin!.end(bytes);
  });
}
