import { type Plan } from '@meetmatt/contracts';

/** The plans on sale and their prices: configuration (PLANS_JSON), never the request. */
export class Catalogue {
  private readonly byId: ReadonlyMap<string, Plan>;

  constructor(readonly plans: readonly Plan[]) {
    this.byId = new Map(plans.map((plan) => [plan.id, plan]));
  }

  find(id: string): Plan | undefined {
    return this.byId.get(id);
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }
}
