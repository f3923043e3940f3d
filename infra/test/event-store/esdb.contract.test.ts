import { EsdbEventStore } from '@meetmatt/infra';
import { describeEventStoreContract } from './contract';

// Runs only where EVENTSTORE_TEST_URL points at an EventStoreDB (`docker compose up -d eventstore`,
// then EVENTSTORE_TEST_URL=esdb://127.0.0.1:2113?tls=false). jest.config.js leaves this file out
// otherwise, and `npm test` says so in one line.
describeEventStoreContract('EventStoreDB', async () => {
  const url = process.env.EVENTSTORE_TEST_URL!;
  const store = new EsdbEventStore({ connectionString: url });
  const other = new EsdbEventStore({ connectionString: url });
  return {
    store,
    other,
    async close() {
      await store.close();
      await other.close();
    },
  };
});
