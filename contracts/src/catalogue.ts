import { z } from 'zod';

/** A plan: what a customer buys (one agent deployment) and its price, set on the server. */
export const PlanSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,30}$/)
      .describe('Plan id, e.g. starter'),
    name: z.string().describe('Display name'),
    priceAmount: z.number().positive().describe('Price in the fiat currency'),
    priceCurrency: z
      .string()
      .regex(/^[a-z]{3}$/)
      .describe('Fiat currency, lower case'),
    maxAcuLimit: z.number().int().positive().describe('Devin compute budget (ACUs) for a build'),
    buildsIncluded: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'How many Devin builds the plan pays for, the first deploy included; beyond them a rebuild is refused (402). Absent: the brain’s configuration for the plan',
      ),
    description: z.string().describe('What the plan includes'),
  })
  .meta({ id: 'Plan' });
export type Plan = z.infer<typeof PlanSchema>;

/** The default catalogue; PLANS_JSON in the payment service's configuration overrides it. */
export const defaultPlans: readonly Plan[] = [
  {
    id: 'starter',
    name: 'Starter agent',
    priceAmount: 49,
    priceCurrency: 'usd',
    maxAcuLimit: 10,
    buildsIncluded: 3,
    description:
      'One agent built and deployed by Devin, with a pull request in a repository we create for it',
  },
  {
    id: 'pro',
    name: 'Pro agent',
    priceAmount: 199,
    priceCurrency: 'usd',
    maxAcuLimit: 50,
    buildsIncluded: 10,
    description: 'A larger build budget, for agents with integrations and tests',
  },
  {
    id: 'enterprise',
    name: 'Enterprise agent',
    priceAmount: 999,
    priceCurrency: 'usd',
    maxAcuLimit: 200,
    buildsIncluded: 25,
    description: 'The largest build budget, for complex multi-service agents',
  },
];
