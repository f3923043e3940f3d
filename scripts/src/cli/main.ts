/**
 * `meetmatt`, the operator CLI (`npx meetmatt …`, or `npm run meetmatt -- …`). See cli.ts for
 * the commands and README.md, "Operator CLI", for what each one prints.
 */
import { runCli } from './cli';

// `meetmatt streams list | head -1`: once the reader has gone, nothing more can be shown, and the
// operator got what they asked for; end quietly with 0 as cat and grep do, not with a stack trace
// from an unhandled 'error' event on the next write.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') process.exit(0);
    throw error;
  });
}

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  // The first Ctrl-C lets the command stop cleanly (a rebuild between batches, a tail after its
  // current line); a second one does not wait.
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  controller.abort(new Error('interrupted'));
});
process.on('SIGTERM', () => controller.abort(new Error('terminated')));

void runCli(process.argv.slice(2), {
  streams: { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  env: process.env,
  signal: controller.signal,
}).then((code) => {
  process.exitCode = code;
  // Sockets left by a library (a broker heartbeat, a pool's idle client) must not keep the
  // command alive once it has finished.
  setTimeout(() => process.exit(code), 100).unref();
});
