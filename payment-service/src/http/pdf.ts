/**
 * One-page PDFs (the invoice, the credit note) in any script: pdfkit lays out text lines and a few
 * rules in Noto Sans JP, which covers Latin, Cyrillic, Greek and CJK, embedded as a subset of the
 * glyphs used (about ten kilobytes a page, not the font's 5 MB), with a ToUnicode map so the text stays
 * searchable and extractable.
 *
 * The fonts come from the npm package `@expo-google-fonts/noto-sans-jp`, resolved from
 * node_modules at run time (not from src/): `npm ci` brings them, and the production image's
 * node_modules carries them next to the esbuild bundle.
 */
import { type Font, openSync } from 'fontkit';
import PDFDocument from 'pdfkit';

export interface PdfText {
  text: string;
  /** Points from the left edge. */
  x: number;
  /** Points from the bottom edge (A4 is 595 × 842). */
  y: number;
  size?: number;
  bold?: boolean;
  /** Ends at `x` instead of starting there (amounts in a column). */
  alignRight?: boolean;
}

export interface PdfRule {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface PdfPage {
  title: string;
  texts: PdfText[];
  rules?: PdfRule[];
}

const A4 = { width: 595, height: 842 };

const FONT_PACKAGE = '@expo-google-fonts/noto-sans-jp';
export const FONT_FILES = {
  regular: `${FONT_PACKAGE}/400Regular/NotoSansJP_400Regular.ttf`,
  bold: `${FONT_PACKAGE}/700Bold/NotoSansJP_700Bold.ttf`,
} as const;

let fonts: { regular: Font; bold: Font } | undefined;

/**
 * The two fonts, parsed once (fontkit reads their tables lazily) and shared by every document:
 * parsing the 5 MB files for each PDF would cost half a second a document.
 */
export function loadFonts(): { regular: Font; bold: Font } {
  const open = (file: string): Font => {
    const font = openSync(require.resolve(file));
    if (!('layout' in font)) throw new Error(`${file} is a font collection, not a font`);
    return font;
  };
  fonts ??= { regular: open(FONT_FILES.regular), bold: open(FONT_FILES.bold) };
  return fonts;
}

/** The document's bytes. */
export function renderPdf(page: PdfPage): Promise<Buffer> {
  const { regular, bold } = loadFonts();
  const doc = new PDFDocument({
    size: [A4.width, A4.height],
    margin: 0,
    // No Helvetica: every character is drawn from the embedded Unicode font.
    font: regular as unknown as string,
    info: { Title: page.title, Producer: 'Meet Matt payment-service', Creator: 'Meet Matt' },
    displayTitle: true,
    lang: 'en',
  });
  // @types/pdfkit knows file names and buffers; pdfkit also takes a fontkit font as it is.
  doc.registerFont('regular', regular as unknown as Buffer);
  doc.registerFont('bold', bold as unknown as Buffer);
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  for (const rule of page.rules ?? []) {
    doc
      .moveTo(rule.x1, A4.height - rule.y1)
      .lineTo(rule.x2, A4.height - rule.y2)
      .lineWidth(0.6)
      .stroke();
  }
  for (const t of page.texts) {
    const size = t.size ?? 10;
    doc.font(t.bold ? 'bold' : 'regular').fontSize(size);
    const x = t.alignRight ? t.x - doc.widthOfString(t.text) : t.x;
    // `y` is the baseline, measured from the bottom; pdfkit measures from the top.
    doc.text(t.text, x, A4.height - t.y, { lineBreak: false, baseline: 'alphabetic' });
  }
  doc.end();
  return done;
}
