/**
 * A loopback TCP proxy that misbehaves on purpose, between a client and a real server:
 * it resets a fraction of connections (at once, mid-response, or right after the server answered
 * a request it fully received), stalls some (holds them silent), and optionally flips a byte
 * deep inside a response so that only an end-to-end integrity check can notice.
 *
 * Bounded: it listens on 127.0.0.1 only, forwards only to the one target given (also on
 * loopback), accepts at most `maxConnections`, and closes itself after `lifetimeMs`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ConnectionFault =
  | 'pass' // forward faithfully
  | 'reset' // RST right after accept: nothing reaches the server
  | 'reset-mid' // forward, then RST both sides after a few KiB of response
  | 'drop-response' // forward the request; RST the client as the server's answer arrives
  | 'stall' // accept, swallow the request, never answer (until the client gives up)
  | 'stall-mid' // forward, then stop relaying the response after a few KiB
  | 'corrupt'; // forward, but flip one byte of the response past its first 4 KiB (in a body)

export interface FaultProxyOptions {
  /** Where to forward; must be a loopback address. */
  targetHost: string;
  targetPort: number;
  /** Fraction of connections reset (split evenly between reset, reset-mid, drop-response). Default 0.1. */
  resetRate?: number;
  /** Fraction of connections stalled (split between stall and stall-mid). Default 0.05. */
  stallRate?: number;
  /** Fraction of connections whose response gets one flipped byte. Default 0. */
  corruptRate?: number;
  /** Decides each connection's fate instead of the rates (index counts from 0). */
  decide?: (index: number) => ConnectionFault;
  /** Seed of the deterministic random generator behind the rates. Default 1. */
  seed?: number;
  /** A stalled connection is closed by the proxy after this long at most. Default 20_000 ms. */
  maxStallMs?: number;
  /** Connections accepted in total; later ones are refused (closed). Default 20_000. */
  maxConnections?: number;
  /** The proxy closes itself after this long. Default 300_000 ms. */
  lifetimeMs?: number;
  /**
   * Closes a connection older than this once a response has been relayed and the client sent
   * nothing after it (like a load balancer's maximum connection age). Keep-alive clients
   * otherwise send hundreds of requests over a handful of connections and per-connection faults
   * become rare; it also exercises clients reusing a socket the server is closing. Default: never.
   */
  maxConnectionAgeMs?: number;
}

export interface FaultProxyStats {
  connections: number;
  faults: Record<ConnectionFault, number>;
}

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  stats: FaultProxyStats;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  if (!LOOPBACK.test(options.targetHost))
    throw new Error(`fault proxy forwards to loopback only, not ${options.targetHost}`);
  const resetRate = options.resetRate ?? 0.1;
  const stallRate = options.stallRate ?? 0.05;
  const corruptRate = options.corruptRate ?? 0;
  const maxStallMs = options.maxStallMs ?? 20_000;
  const maxConnections = options.maxConnections ?? 20_000;
  const random = mulberry32(options.seed ?? 1);
  const stats: FaultProxyStats = {
    connections: 0,
    faults: { pass: 0, reset: 0, 'reset-mid': 0, 'drop-response': 0, stall: 0, 'stall-mid': 0, corrupt: 0 },
  };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const choose = (index: number): ConnectionFault => {
    if (options.decide) return options.decide(index);
    const r = random();
    if (r < resetRate)
      return (['reset', 'reset-mid', 'drop-response'] as const)[Math.floor((r / resetRate) * 3)] ?? 'reset';
    if (r < resetRate + stallRate) return random() < 0.5 ? 'stall' : 'stall-mid';
    if (r < resetRate + stallRate + corruptRate) return 'corrupt';
    return 'pass';
  };

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // resets are the point here
  };

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
  };

  const server: Server = createServer((client) => {
    track(client);
    const index = stats.connections++;
    if (index >= maxConnections) {
      client.destroy();
      return;
    }
    const fault = choose(index);
    stats.faults[fault]++;
    if (fault === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (fault === 'stall') {
      client.resume(); // swallow whatever is sent; answer nothing
      later(maxStallMs, () => client.destroy());
      return;
    }
    const upstream = connect({ host: options.targetHost, port: options.targetPort });
    track(upstream);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    const born = Date.now();
    let lastFromServer = false;
    let quietCheck = false;
    client.on('data', () => (lastFromServer = false));
    const maybeRetire = (): void => {
      if (options.maxConnectionAgeMs === undefined || fault === 'stall-mid' || quietCheck) return;
      if (Date.now() - born < options.maxConnectionAgeMs) return;
      quietCheck = true;
      later(2, () => {
        quietCheck = false;
        if (!lastFromServer) return; // a new request is on its way: not idle
        client.end();
        upstream.end();
      });
    };
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    // A few KiB in: past the headers of a first response, inside a body when there is one.
    const cutAt = 1024 + Math.floor(random() * 16 * 1024);
    let relayed = 0;
    let corrupted = false;
    upstream.on('data', (chunk: Buffer) => {
      if (fault === 'drop-response') {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if ((fault === 'reset-mid' || fault === 'stall-mid') && relayed + chunk.length >= cutAt) {
        const keep = chunk.subarray(0, Math.max(0, cutAt - relayed));
        relayed = cutAt;
        if (keep.length > 0) client.write(keep);
        if (fault === 'reset-mid') {
          client.resetAndDestroy();
          upstream.destroy();
        } else {
          upstream.pause(); // the client now waits for bytes that never come
          later(maxStallMs, closeBoth);
        }
        return;
      }
      if (fault === 'corrupt' && !corrupted && relayed + chunk.length > 4096) {
        const at = Math.max(0, 4096 - relayed);
        const copy = Buffer.from(chunk);
        copy[at] = (copy[at] ?? 0) ^ 0x5a;
        corrupted = true;
        chunk = copy;
      }
      relayed += chunk.length;
      lastFromServer = true;
      maybeRetire();
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => client.end());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('fault proxy has no address');

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }));
  const lifetime = setTimeout(() => void close(), options.lifetimeMs ?? 300_000);
  lifetime.unref();
  server.once('close', () => clearTimeout(lifetime));

  return { port: address.port, url: `http://127.0.0.1:${address.port}`, stats, close };
}

/** Small deterministic PRNG: the same seed gives the same sequence of faults. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
