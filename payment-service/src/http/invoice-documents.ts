import {
  type BillingDetails,
  type CreditNoteSchema,
  type InvoiceSchema,
  countryName,
} from '@meetmatt/contracts';
import { type z } from 'zod';
import { type PdfText, renderPdf } from './pdf';

export type Invoice = z.infer<typeof InvoiceSchema>;
export type CreditNote = z.infer<typeof CreditNoteSchema>;

function money(amount: number, currency: string): string {
  return `${amount.toFixed(2)} ${currency.toUpperCase()}`;
}

function crypto(amount: number | null, currency: string): string {
  return amount === null ? currency.toUpperCase() : `${amount} ${currency.toUpperCase()}`;
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => escapes[c]!);
}

/** The seller's address, one line per line of INVOICE_SELLER_ADDRESS. */
function addressLines(address: string): string[] {
  return address
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** The seller's name, address lines and tax ID, as printed at the top of the invoice. */
function sellerLines(document: Pick<Invoice, 'seller'>): string[] {
  const { name, address, taxId } = document.seller;
  return [name, ...addressLines(address), ...(taxId ? [`Tax ID: ${taxId}`] : [])];
}

/** The buyer's details as printed under "Bill to"; none when the buyer gave none. */
export function buyerLines(buyer: BillingDetails | null): string[] {
  if (!buyer) return [];
  return [
    buyer.name,
    ...buyer.addressLines,
    countryName(buyer.country),
    ...(buyer.taxId ? [`VAT / Tax ID: ${buyer.taxId}`] : []),
  ];
}

/** A printable page: every value escaped, styles inline, nothing loaded from elsewhere. */
export function invoiceHtml(invoice: Invoice): string {
  const rows: [string, string][] = [
    ['Invoice number', invoice.number],
    ['Date', day(invoice.issuedAt)],
    ['Payment', invoice.paymentId],
    ['Customer', invoice.userId],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice ${html(invoice.number)}</title>
<style>
  body { font: 14px/1.5 system-ui, sans-serif; color: #111; max-width: 720px; margin: 40px auto; padding: 0 24px; }
  h1 { font-size: 24px; margin: 0 0 4px; }
  table { width: 100%; border-collapse: collapse; margin: 24px 0; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
  td.amount, th.amount { text-align: right; }
  .seller { color: #555; }
  .total td { font-weight: 600; border-bottom: 2px solid #111; }
  @media print { body { margin: 0; } }
</style>
</head>
<body>
<h1>Invoice ${html(invoice.number)}</h1>
<p class="seller">${sellerLines(invoice).map(html).join('<br>')}</p>
${invoice.buyer ? `<p class="buyer"><strong>Bill to</strong><br>${buyerLines(invoice.buyer).map(html).join('<br>')}</p>` : ''}
<table>
${rows.map(([k, v]) => `  <tr><th>${html(k)}</th><td>${html(v)}</td></tr>`).join('\n')}
</table>
<table>
  <tr><th>Description</th><th class="amount">Amount</th></tr>
  <tr><td>${html(invoice.description)}</td><td class="amount">${html(money(invoice.amount, invoice.currency))}</td></tr>
  <tr class="total"><td>Total</td><td class="amount">${html(money(invoice.amount, invoice.currency))}</td></tr>
</table>
<p>Paid in crypto through NOWPayments: ${html(crypto(invoice.paidWith.amount, invoice.paidWith.currency))}.</p>
</body>
</html>
`;
}

/** What an invoice and a credit note print, laid out the same way on one A4 page. */
interface DocumentLayout {
  title: string;
  seller: string[];
  buyer: string[];
  facts: [string, string][];
  description: string;
  amount: string;
  footer: string;
}

const LEFT = 56;
const RIGHT = 539;
/** Where the "Bill to" column starts, and how wide it is in half-width characters. */
const BUYER_X = 330;
const BUYER_WIDTH = 40;

/** A wide (CJK, full-width) character takes about two columns of a Latin one. */
function columns(text: string): number {
  let n = 0;
  for (const c of text)
    n +=
      /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(
        c,
      )
        ? 2
        : 1;
  return n;
}

/**
 * A line broken at spaces (or anywhere, for a word wider than the column) so that nothing the
 * buyer typed is cut off the printed page.
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  const push = () => {
    if (current) lines.push(current);
    current = '';
  };
  for (const word of text.split(' ')) {
    const candidate = current ? `${current} ${word}` : word;
    if (columns(candidate) <= width) {
      current = candidate;
      continue;
    }
    push();
    for (const c of word) {
      if (columns(current + c) > width) push();
      current += c;
    }
  }
  push();
  return lines;
}

function documentPdf(layout: DocumentLayout): Promise<Buffer> {
  const texts: PdfText[] = [
    { text: layout.title, x: LEFT, y: 770, size: 20, bold: true },
    ...layout.seller.map((text, i) => ({ text, x: LEFT, y: 745 - i * 13, size: 10 })),
  ];
  const buyer = layout.buyer.flatMap((line) => wrap(line, BUYER_WIDTH));
  if (buyer.length > 0) {
    texts.push({ text: 'Bill to', x: BUYER_X, y: 745, size: 10, bold: true });
    buyer.forEach((text, i) => texts.push({ text, x: BUYER_X, y: 732 - i * 13, size: 10 }));
  }
  const block = Math.max(layout.seller.length, buyer.length + (buyer.length ? 1 : 0));
  const top = Math.min(690, 745 - block * 13 - 16);
  layout.facts.forEach(([label, value], i) => {
    const y = top - i * 16;
    texts.push(
      { text: label, x: LEFT, y, bold: true },
      { text: value.slice(0, 70), x: LEFT + 110, y },
    );
  });
  const table = top - layout.facts.length * 16 - 26;
  texts.push(
    { text: 'Description', x: LEFT, y: table, bold: true },
    { text: 'Amount', x: RIGHT, y: table, bold: true, alignRight: true },
    { text: layout.description.slice(0, 80), x: LEFT, y: table - 20 },
    { text: layout.amount, x: RIGHT, y: table - 20, alignRight: true },
    { text: 'Total', x: LEFT, y: table - 50, bold: true },
    { text: layout.amount, x: RIGHT, y: table - 50, bold: true, alignRight: true },
    { text: layout.footer, x: LEFT, y: table - 90, size: 9 },
  );
  return renderPdf({
    title: layout.title,
    texts,
    rules: [
      { x1: LEFT, y1: table - 6, x2: RIGHT, y2: table - 6 },
      { x1: LEFT, y1: table - 34, x2: RIGHT, y2: table - 34 },
    ],
  });
}

/** The same invoice on one A4 page, in any script (see pdf.ts). */
export function invoicePdf(invoice: Invoice): Promise<Buffer> {
  return documentPdf({
    title: `Invoice ${invoice.number}`,
    seller: sellerLines(invoice),
    buyer: buyerLines(invoice.buyer),
    facts: [
      ['Invoice number', invoice.number],
      ['Date', day(invoice.issuedAt)],
      ['Payment', invoice.paymentId],
      ['Customer', invoice.userId],
    ],
    description: invoice.description,
    amount: money(invoice.amount, invoice.currency),
    footer: `Paid in crypto through NOWPayments: ${crypto(invoice.paidWith.amount, invoice.paidWith.currency)}`,
  });
}

/** A credit note on one A4 page: the invoice it credits, the buyer as invoiced, the amount negated. */
export function creditNotePdf(note: CreditNote): Promise<Buffer> {
  return documentPdf({
    title: `Credit note ${note.number}`,
    seller: sellerLines(note),
    buyer: buyerLines(note.buyer),
    facts: [
      ['Credit note', note.number],
      ['Date', day(note.issuedAt)],
      ['Credits invoice', note.invoiceNumber],
      ['Payment', note.paymentId],
      ['Customer', note.userId],
      ['Refund reference', note.refundReference],
    ],
    description: note.description,
    amount: money(note.amount, note.currency),
    footer: `Reason: ${note.reason}`.slice(0, 110),
  });
}
