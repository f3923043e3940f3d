import { type MailRenderer } from '@meetmatt/infra';
import { type Catalogue } from '../application/catalogue';
import { type MailRecipients, ReceiptPayload } from '../application/receipts';
import { type PaymentQueries } from '../projections/payment-queries';
import { type Invoice, invoicePdf } from './invoice-documents';
import { invoiceOf } from './routes';

/**
 * The receipt of a confirmed payment, with its invoice as a PDF, drawn when it is sent (the
 * outbox keeps only which payment). Here, beside the invoice routes, because it is the same
 * document the routes serve. Not yet known (the buyer's address, the invoice in the read model)
 * is "try again later": the sender retries with backoff.
 */
export function receiptRenderer(deps: {
  recipients: MailRecipients;
  queries: PaymentQueries;
  catalogue: Catalogue;
  seller: Invoice['seller'];
  appUrl: string;
}): MailRenderer {
  return async (raw) => {
    const { paymentId, userId } = ReceiptPayload.parse(raw);
    const recipient = await deps.recipients.of(userId);
    if (recipient && !recipient.wantsReceipts) return { skip: 'preferences: no email' };
    if (!recipient?.email) throw new Error('the buyer’s address is not known here yet');
    const row = await deps.queries.find(paymentId);
    if (!row?.invoice_number || !row.invoice_issued_at)
      throw new Error('the invoice is not in the read model yet');
    const invoice = invoiceOf(row, deps.catalogue.find(row.plan), deps.seller);
    const pdf = await invoicePdf(invoice);
    const app = deps.appUrl.replace(/\/$/, '');
    return {
      to: recipient.email,
      subject: `Your Meet Matt receipt ${invoice.number}`,
      text: `Thank you: your payment of ${invoice.amount.toFixed(2)} ${invoice.currency.toUpperCase()} for “${row.agent.name}” is confirmed.\n\nYour invoice ${invoice.number} is attached.\n\n${app}/payments/${paymentId}\n`,
      attachments: [
        { filename: `${invoice.number}.pdf`, contentType: 'application/pdf', content: pdf },
      ],
    };
  };
}
