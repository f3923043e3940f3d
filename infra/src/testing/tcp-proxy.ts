import net from 'node:net';

/**
 * A TCP proxy between a client and a shared server, so a test can cut one service off its
 * database or broker without stopping the server under every other test.
 */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  private cutOff = false;
  private frozen = false;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static forUrl(url: string, defaultPort: number): TcpProxy {
    const parsed = new URL(url);
    return new TcpProxy(parsed.hostname, Number(parsed.port || defaultPort));
  }

  async start(): Promise<this> {
    this.server = net.createServer((client) => {
      if (this.cutOff) {
        client.destroy();
        return;
      }
      if (this.frozen) {
        // Accepted and then never answered, like a server that stopped responding.
        this.track(client);
        client.on('error', () => undefined);
        return;
      }
      const upstream = net.connect(this.targetPort, this.targetHost);
      this.track(client);
      this.track(upstream);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The given URL pointed at the proxy instead. */
  url(original: string): string {
    const parsed = new URL(original);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.cutOff = false;
  }

  /**
   * Stops forwarding in both directions while keeping every connection open, and accepts new
   * connections without ever answering them: a dependency that hangs rather than fails.
   * Nothing sent meanwhile arrives, even after `thaw`.
   */
  freeze(): void {
    this.frozen = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Read and drop, so each side still notices when the other end closes.
      client.on('data', () => undefined).resume();
      upstream.on('data', () => undefined).resume();
    }
  }

  /** New connections are forwarded again; those open during the freeze stay dead (cut them). */
  thaw(): void {
    this.frozen = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
