/**
 * A minimal PDF 1.4 writer, enough for a one-page invoice: text lines in the standard Helvetica
 * fonts (no embedding), a few rules, one uncompressed content stream, and an exact
 * cross-reference table. No dependency; the text stays searchable (a test looks for the number).
 */

export interface PdfText {
  text: string;
  /** Points from the left edge. */
  x: number;
  /** Points from the bottom edge (A4 is 595 × 842). */
  y: number;
  size?: number;
  bold?: boolean;
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

/** Characters WinAnsiEncoding has outside Latin-1's positions. */
const WIN_ANSI: Record<string, number> = {
  '€': 0x80,
  '‚': 0x82,
  '„': 0x84,
  '…': 0x85,
  '‘': 0x91,
  '’': 0x92,
  '“': 0x93,
  '”': 0x94,
  '•': 0x95,
  '–': 0x96,
  '—': 0x97,
  '™': 0x99,
};

/** A PDF literal string in WinAnsi bytes; characters it cannot show become `?`. */
export function pdfString(text: string): string {
  let out = '(';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    let byte: number;
    if (WIN_ANSI[char] !== undefined) byte = WIN_ANSI[char];
    else if ((code >= 0x20 && code < 0x7f) || (code >= 0xa0 && code <= 0xff)) byte = code;
    else byte = 0x3f;
    if (byte === 0x28 || byte === 0x29 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else out += String.fromCharCode(byte);
  }
  return `${out})`;
}

function contentStream(page: PdfPage): string {
  const ops: string[] = [];
  for (const rule of page.rules ?? []) {
    ops.push(`0.6 w ${rule.x1} ${rule.y1} m ${rule.x2} ${rule.y2} l S`);
  }
  for (const t of page.texts) {
    const font = t.bold ? 'F2' : 'F1';
    ops.push(`BT /${font} ${t.size ?? 10} Tf ${t.x} ${t.y} Td ${pdfString(t.text)} Tj ET`);
  }
  return ops.join('\n');
}

/** The document's bytes: header, objects, xref with each object's byte offset, trailer. */
export function renderPdf(page: PdfPage): Buffer {
  const content = contentStream(page);
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${A4.width} ${A4.height}] ` +
      '/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
    `<< /Title ${pdfString(page.title)} /Producer (Meet Matt payment-service) >>`,
  ];
  // The binary comment tells transfer tools the file is not text.
  let body = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info ${objects.length} 0 R >>\n`;
  body += `startxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}
