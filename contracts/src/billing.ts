import { z } from 'zod';

/**
 * Text a person types on an invoice: trimmed, no control characters (PostgreSQL refuses NUL, and
 * a line break inside a field would break the printed layout).
 */
const line = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // eslint-disable-next-line no-control-regex -- control characters are what it refuses
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters (such as NUL)');

/** Whether `code` is an ISO 3166-1 alpha-2 region the runtime's ICU knows (FR, DE, JP …). */
function knownCountry(code: string): boolean {
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' }).of(code);
    return code !== 'ZZ' && name !== undefined && name !== code;
  } catch {
    return false;
  }
}

/**
 * The buyer's billing details, as the user typed them in their profile (PUT /users/:id) and as
 * an invoice or credit note prints them. They travel from the user service to the payment
 * service in `user.billing-details-changed`; an invoice keeps a copy of them as they were when
 * it was issued.
 */
export const BillingDetailsSchema = z
  .object({
    name: line(120).describe('The person or company invoiced'),
    addressLines: z
      .array(line(120))
      .min(1, 'give at least one address line')
      .max(4, 'at most 4 address lines')
      .describe('Street, postcode and city …, one entry per printed line (1 to 4)'),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 code in capitals, such as FR')
      .refine(knownCountry, 'not a country code (ISO 3166-1 alpha-2)')
      .describe('ISO 3166-1 alpha-2 country code, e.g. FR'),
    taxId: z
      .string()
      .trim()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9 .\-/]{1,39}$/,
        'expected a VAT or tax number (2 to 40 letters, digits, spaces, . - /)',
      )
      .nullable()
      .describe('The buyer’s VAT or tax number; null when it has none'),
  })
  .meta({ id: 'BillingDetails' });
export type BillingDetails = z.infer<typeof BillingDetailsSchema>;

/** The country's English name for printing (FR → France); the code itself if unknown. */
export function countryName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}
