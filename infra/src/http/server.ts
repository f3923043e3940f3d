import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type RequestListener } from 'node:http';

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), then cuts the rest. */
  close(timeoutMs?: number): Promise<void>;
}

export async function startHttpServer(
  handler: RequestListener,
  options: { port: number; host?: string; keepAliveTimeoutMs?: number },
): Promise<RunningServer> {
  const server = createServer(handler);
  // Longer than nginx's upstream keepalive_timeout, so the proxy closes idle connections first.
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: address.port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    close(timeoutMs = 10_000) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
