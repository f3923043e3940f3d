/**
 * The floor of the hop on this machine, built by hand: one INSERT, one publish with a confirm,
 * one consumer (prefetch 16, like ours) that INSERTs and acks. Timed the way the flow is timed:
 * from the first row's created_at to the second's, at the same offered rate, open loop.
 */
import amqp from 'amqplib';
import pg from 'pg';
import { type Spread, spread } from './stats';
import { openLoop } from './open-loop';

export async function baselineHop(
  databaseUrl: string,
  rabbitmqUrl: string,
  rate: number,
  seconds: number,
): Promise<Spread & { lost: number }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // An idle connection cut by the database's drop (WITH FORCE) right after this run is no news;
  // unheard, the pool's 'error' would crash the bench (it did once, between two full runs).
  pool.on('error', () => undefined);
  const connection = await amqp.connect(rabbitmqUrl);
  try {
    await pool.query(
      `CREATE TABLE IF NOT EXISTS hop_in (id int PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
       CREATE TABLE IF NOT EXISTS hop_out (id int PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    const publisher = await connection.createConfirmChannel();
    const consumer = await connection.createChannel();
    const queue = (await consumer.assertQueue('', { exclusive: true })).queue;
    await consumer.prefetch(16);
    let handled = 0;
    await consumer.consume(queue, (message) => {
      if (!message) return;
      const { id } = JSON.parse(message.content.toString()) as { id: number };
      pool
        .query('INSERT INTO hop_out (id) VALUES ($1) ON CONFLICT DO NOTHING', [id])
        .then(() => {
          handled += 1;
          consumer.ack(message);
        })
        .catch(() => consumer.nack(message));
    });
    const total = Math.round(rate * seconds);
    await openLoop(rate, total, async (id) => {
      const body = JSON.stringify({ id, type: 'payment.confirmed' });
      await pool.query('INSERT INTO hop_in (id, body) VALUES ($1, $2)', [id, body]);
      await new Promise<void>((resolve, reject) =>
        publisher.sendToQueue(queue, Buffer.from(body), { persistent: true }, (error) =>
          error ? reject(error as Error) : resolve(),
        ),
      );
    });
    const deadline = Date.now() + 30_000;
    while (handled < total && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const { rows } = await pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM (o.created_at - i.created_at)) * 1000 AS ms
         FROM hop_in i JOIN hop_out o USING (id)`,
    );
    return { ...spread(rows.map((r) => Number(r.ms))), lost: total - rows.length };
  } finally {
    await connection.close().catch(() => undefined);
    await pool.end();
  }
}
