import { type InvoiceSchema } from '@meetmatt/contracts';
import { type z } from 'zod';
import { type PdfText, renderPdf } from './pdf';

export type Invoice = z.infer<typeof InvoiceSchema>;

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
function sellerLines(invoice: Invoice): string[] {
  const { name, address, taxId } = invoice.seller;
  return [name, ...addressLines(address), ...(taxId ? [`Tax ID: ${taxId}`] : [])];
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

/** The same invoice on one A4 page, in any script (see pdf.ts). */
export function invoicePdf(invoice: Invoice): Promise<Buffer> {
  const left = 56;
  const right = 539;
  const seller = sellerLines(invoice);
  const texts: PdfText[] = [
    { text: `Invoice ${invoice.number}`, x: left, y: 770, size: 20, bold: true },
    ...seller.map((text, i) => ({ text, x: left, y: 745 - i * 13, size: 10 })),
  ];
  const top = Math.min(690, 745 - seller.length * 13 - 16);
  const facts: [string, string][] = [
    ['Invoice number', invoice.number],
    ['Date', day(invoice.issuedAt)],
    ['Payment', invoice.paymentId],
    ['Customer', invoice.userId],
  ];
  facts.forEach(([label, value], i) => {
    const y = top - i * 16;
    texts.push({ text: label, x: left, y, bold: true }, { text: value, x: left + 110, y });
  });
  const table = top - facts.length * 16 - 26;
  const amount = money(invoice.amount, invoice.currency);
  texts.push(
    { text: 'Description', x: left, y: table, bold: true },
    { text: 'Amount', x: right, y: table, bold: true, alignRight: true },
    { text: invoice.description.slice(0, 80), x: left, y: table - 20 },
    { text: amount, x: right, y: table - 20, alignRight: true },
    { text: 'Total', x: left, y: table - 50, bold: true },
    { text: amount, x: right, y: table - 50, bold: true, alignRight: true },
    {
      text: `Paid in crypto through NOWPayments: ${crypto(invoice.paidWith.amount, invoice.paidWith.currency)}`,
      x: left,
      y: table - 90,
      size: 9,
    },
  );
  return renderPdf({
    title: `Invoice ${invoice.number}`,
    texts,
    rules: [
      { x1: left, y1: table - 6, x2: right, y2: table - 6 },
      { x1: left, y1: table - 34, x2: right, y2: table - 34 },
    ],
  });
}
