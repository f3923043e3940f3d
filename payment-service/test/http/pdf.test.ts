import { type Invoice, creditNotePdf, invoicePdf, wrap } from '../../src/http/invoice-documents';
import { FONT_FILES, renderPdf } from '../../src/http/pdf';
import { pdfText as textOf } from '../support/pdf-text';

const invoice: Invoice = {
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
  buyer: null,
};

const buyer = {
  name: 'Ассистент 日本 Zoë SARL',
  addressLines: ['Тверская улица 7', '東京都千代田区 1-1'],
  country: 'JP',
  taxId: 'JP-1234567890123',
};

describe('invoice PDF', () => {
  test('when an invoice is rendered, then it is a PDF whose extracted text carries the number', async () => {
    const bytes = await invoicePdf(invoice);
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(bytes.toString('latin1').trimEnd().endsWith('%%EOF')).toBe(true);
    const text = await textOf(bytes);
    expect(text).toContain('Invoice MM-2026-000042');
    expect(text).toContain('“Support (beta) \\ bot”');
    expect(text).toContain('49.00 USD');
  });

  test('when the agent and the buyer are named in Cyrillic, Japanese and accented Latin, then the extracted text carries every character and every billing line', async () => {
    const bytes = await invoicePdf({
      ...invoice,
      description: 'Starter agent: the agent “Ассистент 日本 Zoë”, built and deployed by Devin',
      buyer,
    });
    const text = await textOf(bytes);
    const lines = text.split('\n').map((line) => line.trim());
    expect(text).toContain('Ассистент 日本 Zoë');
    expect(text).toContain('MM-2026-000042');
    expect(text).not.toContain('?');
    for (const line of [
      'Bill to',
      'Ассистент 日本 Zoë SARL',
      'Тверская улица 7',
      '東京都千代田区 1-1',
      'Japan',
      'VAT / Tax ID: JP-1234567890123',
    ])
      expect(lines.some((l) => l.includes(line))).toBe(true);
  });

  test('when a billing line is longer than the column, then it is wrapped, not cut: every word is printed', async () => {
    const name =
      'Ассистент 日本 Zoë Société Anonyme à Responsabilité Limitée du Grand Est et des Environs';
    const long = '東京都千代田区丸の内一丁目一番一号東京駅前ビルディング二十三階';
    const text = await textOf(
      await invoicePdf({ ...invoice, buyer: { ...buyer, name, addressLines: [long] } }),
    );
    for (const word of name.split(' ')) expect(text).toContain(word);
    expect(text.replace(/\s/g, '')).toContain(long);
    expect(wrap(long, 40).length).toBeGreaterThan(1);
    expect(wrap('short line', 40)).toEqual(['short line']);
  });

  test('when the buyer gave no billing details, then there is no Bill to block', async () => {
    expect(await textOf(await invoicePdf(invoice))).not.toContain('Bill to');
  });

  test('when a credit note is rendered, then it names its number, the invoice it credits, the buyer and the negative amount', async () => {
    const text = await textOf(
      await creditNotePdf({
        number: 'MM-CN-2026-000003',
        invoiceNumber: invoice.number,
        paymentId: invoice.paymentId,
        userId: invoice.userId,
        plan: 'starter',
        description:
          'Refund of Starter agent: the agent “Ассистент 日本 Zoë”, built and deployed by Devin',
        amount: -49,
        currency: 'usd',
        reason: 'The agent could not be deployed',
        refundReference: 'PAYOUT-42',
        issuedAt: '2026-03-05T09:00:00.000Z',
        seller: invoice.seller,
        buyer,
      }),
    );
    for (const part of [
      'Credit note MM-CN-2026-000003',
      'MM-2026-000042',
      'Ассистент 日本 Zoë',
      'Ассистент 日本 Zoë SARL',
      '-49.00 USD',
      'PAYOUT-42',
      'Reason: The agent could not be deployed',
    ])
      expect(text).toContain(part);
  });

  test('when a PDF is rendered, then it embeds a subset of the Unicode font, no standard font, and stays small', async () => {
    const bytes = await renderPdf({
      title: 'Проверка',
      texts: [
        { text: 'Ассистент 日本 Zoë', x: 56, y: 770 },
        { text: 'Total', x: 56, y: 750, bold: true },
      ],
    });
    const raw = bytes.toString('latin1');
    // A subset's name carries a six-letter tag; both weights are embedded as TrueType programs.
    expect(raw).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansJP-Regular/);
    expect(raw).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansJP-Bold/);
    expect(raw).toContain('/FontFile2');
    expect(raw).toContain('/ToUnicode');
    expect(raw).not.toContain('/Helvetica');
    expect(bytes.length).toBeLessThan(40_000);
    expect(await textOf(bytes)).toContain('Ассистент 日本 Zoë');
  });

  test('when the seller has a multi-line address and a tax ID, then each line is on the invoice', async () => {
    const text = await textOf(
      await invoicePdf({
        ...invoice,
        seller: {
          name: 'Meet Matt SAS',
          address: '12 rue de l’Exemple\n75002 Paris\nFrance',
          taxId: 'FR12345678901',
        },
      }),
    );
    const lines = text.split('\n').map((line) => line.trim());
    for (const line of [
      'Meet Matt SAS',
      '12 rue de l’Exemple',
      '75002 Paris',
      'France',
      'Tax ID: FR12345678901',
    ]) {
      expect(lines).toContain(line);
    }
  });

  test('when the font is looked for, then it comes from an npm package in node_modules, not from the sources', () => {
    for (const file of Object.values(FONT_FILES)) {
      expect(require.resolve(file)).toMatch(
        /\/node_modules\/@expo-google-fonts\/noto-sans-jp\/.+\.ttf$/,
      );
    }
  });
});
