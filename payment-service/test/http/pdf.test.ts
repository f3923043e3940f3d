import { invoicePdf } from '../../src/http/invoice-documents';
import { pdfString, renderPdf } from '../../src/http/pdf';

const invoice = {
  number: 'MM-2026-000042',
  paymentId: '0b0c2f6e-6a4b-4a53-9a8e-3c6f3f1f9d10',
  userId: '5d7e6c1a-2b3c-4d5e-8f90-1a2b3c4d5e6f',
  plan: 'starter',
  description: 'Starter agent: the agent “Support (beta) \\ bot”, built and deployed by Devin',
  amount: 49,
  currency: 'usd',
  paidWith: { currency: 'btc', amount: 0.00081667 },
  issuedAt: '2026-03-01T12:00:00.000Z',
  seller: { name: 'Meet Matt', address: '1 Example Street, Paris' },
};

describe('invoice PDF', () => {
  test('when an invoice is rendered, then it is a PDF whose text carries the number', () => {
    const bytes = invoicePdf(invoice);
    const text = bytes.toString('latin1');
    expect(text.startsWith('%PDF-1.4\n')).toBe(true);
    expect(text).toContain('(Invoice MM-2026-000042)');
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
  });

  test('when the document is read by its cross-reference table, then every offset lands on its object', () => {
    const text = renderPdf({ title: 'T', texts: [{ text: 'hello', x: 10, y: 10 }] }).toString(
      'latin1',
    );
    const startxref = Number(/startxref\n(\d+)\n%%EOF/.exec(text)![1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    const entries = text
      .slice(startxref)
      .split('\n')
      .slice(2)
      .filter((l) => / n $/.test(l));
    expect(entries.length).toBe(7);
    entries.forEach((entry, i) => {
      const offset = Number(entry.slice(0, 10));
      expect(text.slice(offset, offset + `${i + 1} 0 obj`.length)).toBe(`${i + 1} 0 obj`);
    });
    const length = Number(/\/Length (\d+) >>\nstream\n/.exec(text)![1]);
    const start = text.indexOf('stream\n') + 'stream\n'.length;
    expect(text.slice(start + length, start + length + '\nendstream'.length)).toBe('\nendstream');
  });

  test('when text has parentheses, backslashes or characters outside WinAnsi, then they are escaped or replaced', () => {
    expect(pdfString('a (b) \\ c')).toBe('(a \\(b\\) \\\\ c)');
    expect(pdfString('“quote” €')).toBe(`(\x93quote\x94 \x80)`);
    expect(pdfString('日本')).toBe('(??)');
  });
});
