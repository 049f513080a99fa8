/**
 * A TCP proxy in front of a real server, to cut one client off (a network partition) while
 * the server stays up for everyone else. Listens on port 0 and reports the port it got.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** Drop every connection through the proxy and refuse new ones (accepted, then closed). */
  cut(): void;
  /** Forward again. */
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let open = true;
  const pairs = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect({ port: targetPort, host: targetHost });
    pairs.add(client);
    pairs.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(client);
      pairs.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    open = false;
    for (const s of pairs) s.destroy();
    pairs.clear();
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut,
    heal() {
      open = true;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
