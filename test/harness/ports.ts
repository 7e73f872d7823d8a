/** Free TCP ports on loopback, asked of the kernel rather than guessed. */
import { createServer, type Server } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Listens on a kernel-chosen loopback port (no race with other processes) and returns it. */
export function listen(server: Pick<Server, 'listen' | 'address' | 'once'>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** Runs `start` with fresh free ports until one is not taken in between (at most `tries` times). */
export async function withFreePort<T>(start: (port: number) => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try { return await start(await freePort()); } catch (err) {
      if (i >= tries) throw err;
    }
  }
}
