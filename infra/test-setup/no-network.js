// The unit project's guard (jest.unit.config.js): a unit test needs no PostgreSQL, RabbitMQ,
// nginx or network, so any socket it tries to open is refused here, named, and fails the file
// (afterAll below), instead of hanging in a client's reconnect loop or passing only on a machine
// where the servers happen to answer.
//
// Jest evaluates this file afresh for every test file, but node:net is one module per worker, so
// the original connect and the attempts are kept on the patch itself, never in this module.
'use strict';
const net = require('node:net');

const GUARD = Symbol.for('meetmatt.noNetwork');

function describeTarget(args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first && typeof first === 'object') {
    if (first.path) return first.path;
    return `${first.host ?? 'localhost'}:${first.port}`;
  }
  if (typeof first === 'string' && Number.isNaN(Number(first))) return first;
  return `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${first}`;
}

function guard() {
  return net.Socket.prototype.connect[GUARD];
}

function forbidNetwork() {
  if (guard()) return;
  const state = { original: net.Socket.prototype.connect, attempts: [] };
  // Socket.prototype.connect is where net.connect, tls.connect, http, fetch (undici), pg and
  // amqplib all end up, so one patch covers every client.
  function refusedConnect(...args) {
    const target = describeTarget(args);
    state.attempts.push(target);
    throw new Error(
      `unit tests open no sockets: a connection to ${target} was attempted; ` +
        'a test that needs a server runs under `npm test`, not `npm run test:unit`',
    );
  }
  refusedConnect[GUARD] = state;
  net.Socket.prototype.connect = refusedConnect;
}

function allowNetwork() {
  const state = guard();
  if (state) net.Socket.prototype.connect = state.original;
}

function takeAttempts() {
  const state = guard();
  return state ? state.attempts.splice(0, state.attempts.length) : [];
}

module.exports = { forbidNetwork, allowNetwork, takeAttempts, isForbidden: () => !!guard() };
