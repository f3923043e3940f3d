/* global window, document, location, EventSource, MeetMatt */
// The web app's journey in plain browser JavaScript with the typed client (@meetmatt/client,
// bundled as client.js, global MeetMatt: one function per operationId of the contracts), against the gateway on another origin: sign up, sign
// in, open the notification stream with a ticket, buy an agent, receive the notifications live,
// read the invoice and download its PDF. Each step lands in window.results.steps, for the test
// to read; the first failure in window.results.error.
'use strict';

const api = new URLSearchParams(location.search).get('api');
const client = MeetMatt.createClient({ baseUrl: api, timeoutMs: 10000 });
const results = { steps: {}, notifications: [], error: undefined };
window.results = results;

function record(name, value) {
  results.steps[name] = value;
  const item = document.createElement('li');
  item.textContent = `${name}: ${JSON.stringify(value)}`;
  document.getElementById('log').append(item);
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const email = `browser+${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `correct horse ${crypto.randomUUID()}`;

  const signUp = (
    await client.api.register({ body: { email, password, displayName: 'Ada in Chromium' } })
  ).body;
  record('signUp', { userId: signUp.user.id, email: signUp.user.email });

  // An error answer is a ProblemError; its X-Request-Id is readable because CORS exposes it.
  try {
    await client.api.login({ body: { email, password: 'not the password' } });
    record('refused', { thrown: false });
  } catch (error) {
    record('refused', {
      name: error.name,
      status: error.status,
      problemStatus: error.problem && error.problem.status,
      requestId: error.requestId,
      title: error.title,
    });
  }

  const signIn = (await client.api.login({ body: { email, password } })).body;
  const userId = signIn.user.id;
  record('signIn', { userId, token: signIn.accessToken });

  // EventSource cannot send Authorization: a single-use ticket names the user instead.
  const ticket = (await client.api.createStreamTicket()).body;
  record('ticket', { url: ticket.url });
  const wanted = ['payment.confirmed', 'agent.deployed'];
  const stream = new EventSource(client.url(ticket.url));
  let arrived;
  const bothArrived = new Promise((resolve) => (arrived = resolve));
  stream.addEventListener('notification', (event) => {
    const n = JSON.parse(event.data);
    results.notifications.push({ id: n.id, kind: n.kind, eventId: event.lastEventId });
    const kinds = new Set(results.notifications.map((x) => x.kind));
    if (wanted.every((k) => kinds.has(k))) arrived();
  });
  await new Promise((resolve, reject) => {
    stream.addEventListener('open', resolve, { once: true });
    stream.addEventListener(
      'error',
      () => reject(new Error('the notification stream did not open')),
      { once: true },
    );
  });
  record('streamOpen', { readyState: stream.readyState });

  // createPayment takes an Idempotency-Key: the client makes one and keeps it over its retries.
  const created = (
    await client.api.createPayment({
      body: {
        plan: 'starter',
        payCurrency: 'btc',
        agent: { name: 'Matt from the browser', instructions: 'Answer the support inbox.' },
        autoDeploy: true,
      },
    })
  ).body;
  record('payment', {
    id: created.id,
    payAddress: created.payAddress,
    payCurrency: created.payCurrency,
  });

  // The NOWPayments sandbox plays the payment to the end; the notifications come by the stream.
  await bothArrived;
  stream.close();
  record('live', { kinds: results.notifications.map((n) => n.kind) });

  let invoice;
  for (let wait = 100; invoice === undefined; wait = Math.min(wait * 2, 1000)) {
    try {
      invoice = (await client.api.getPaymentInvoice({ params: { id: created.id } })).body;
    } catch (error) {
      if (!(error instanceof MeetMatt.ProblemError) || ![404, 409].includes(error.status))
        throw error;
      await pause(wait);
    }
  }
  record('invoice', { number: invoice.number });

  const pdf = await client.raw.getPaymentInvoice(
    { params: { id: created.id } },
    { accept: 'application/pdf' },
  );
  const bytes = new Uint8Array(await pdf.response.arrayBuffer());
  record('pdf', {
    contentType: pdf.headers.get('content-type'),
    head: String.fromCharCode(...bytes.slice(0, 5)),
    size: bytes.length,
  });
}

main().catch((error) => {
  results.error = String(error && error.stack ? error.stack : error);
});
