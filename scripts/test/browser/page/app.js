/* global window, document, location, EventSource */
// The web app's journey in plain browser JavaScript, against the gateway on another origin:
// sign up, sign in, open the notification stream with a ticket, buy an agent, receive the
// notifications live, read the invoice and download its PDF. Each step lands in
// window.results.steps, for the test to read; the first failure in window.results.error.
'use strict';

const api = new URLSearchParams(location.search).get('api');
const results = { steps: {}, notifications: [], error: undefined };
window.results = results;

function record(name, value) {
  results.steps[name] = value;
  const item = document.createElement('li');
  item.textContent = `${name}: ${JSON.stringify(value)}`;
  document.getElementById('log').append(item);
}

async function call(method, path, { token, body, headers = {} } = {}) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    requestId: res.headers.get('x-request-id'),
    body: text ? JSON.parse(text) : undefined,
  };
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const email = `browser+${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `correct horse ${crypto.randomUUID()}`;

  const signUp = await call('POST', '/auth/register', {
    body: { email, password, displayName: 'Ada in Chromium' },
  });
  record('signUp', { status: signUp.status, userId: signUp.body?.user?.id });

  const signIn = await call('POST', '/auth/login', { body: { email, password } });
  const token = signIn.body?.accessToken;
  const userId = signIn.body?.user?.id;
  record('signIn', { status: signIn.status, userId, requestId: signIn.requestId, token });

  // EventSource cannot send Authorization: a single-use ticket names the user instead.
  const ticket = await call('POST', '/notifications/stream-ticket', { token });
  record('ticket', { status: ticket.status, url: ticket.body?.url });
  const wanted = ['payment.confirmed', 'agent.deployed'];
  const stream = new EventSource(`${api}${ticket.body.url}`);
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

  const created = await call('POST', '/payments/create', {
    token,
    headers: { 'idempotency-key': crypto.randomUUID() },
    body: {
      plan: 'starter',
      payCurrency: 'btc',
      agent: { name: 'Matt from the browser', instructions: 'Answer the support inbox.' },
      autoDeploy: true,
    },
  });
  record('payment', {
    status: created.status,
    id: created.body?.id,
    payAddress: created.body?.payAddress,
    payCurrency: created.body?.payCurrency,
  });

  // The NOWPayments sandbox plays the payment to the end; the notifications come by the stream.
  await bothArrived;
  stream.close();
  record('live', { kinds: results.notifications.map((n) => n.kind) });

  const paymentId = created.body.id;
  let invoice;
  for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
    invoice = await call('GET', `/payments/${paymentId}/invoice`, { token });
    if (invoice.status === 200) break;
    await pause(wait);
  }
  record('invoice', { status: invoice.status, number: invoice.body?.number });

  const pdf = await fetch(`${api}/payments/${paymentId}/invoice`, {
    headers: { accept: 'application/pdf', authorization: `Bearer ${token}` },
  });
  const bytes = new Uint8Array(await pdf.arrayBuffer());
  record('pdf', {
    status: pdf.status,
    contentType: pdf.headers.get('content-type'),
    head: String.fromCharCode(...bytes.slice(0, 5)),
    size: bytes.length,
  });
}

main().catch((error) => {
  results.error = String(error && error.stack ? error.stack : error);
});
