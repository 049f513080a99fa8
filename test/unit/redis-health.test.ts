import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { RedisHealth, type Pingable } from '../../src/redis-health.js';

/** A connection whose PINGs answer only when the test says so (a frozen server never does). */
class Server implements Pingable {
  status = 'ready';
  pending: Array<() => void> = [];
  sent = 0;
  ping(): Promise<string> {
    this.sent++;
    return new Promise((resolve) => this.pending.push(() => resolve('PONG')));
  }
  answer(): void {
    for (const r of this.pending.splice(0)) r();
  }
}

const log = pino({ level: 'silent' });

describe('RedisHealth', () => {
  // setImmediate too: the verdict on a missed deadline waits one pass of I/O.
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  function setup() {
    const server = new Server();
    const changes: boolean[] = [];
    const health = new RedisHealth(server, [server], { intervalMs: 1_000, deadlineMs: 1_000 }, log);
    health.onChange((up) => changes.push(up));
    health.start();
    return { server, health, changes };
  }

  it('stays available while PINGs answer in time', async () => {
    const { server, health, changes } = setup();
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(1_000);
      server.answer();
    }
    expect(health.available).toBe(true);
    expect(changes).toEqual([]);
  });

  it('a frozen server (status still ready) is unavailable once a PING misses its deadline, once; back on the next answer', async () => {
    const { server, health, changes } = setup();
    await vi.advanceTimersByTimeAsync(1_000); // PING sent, never answered
    expect(health.available).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000); // the deadline: the verdict waits one pass of I/O
    expect(health.available).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(health.available).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.sent, 'one PING outstanding at a time').toBe(1);
    expect(changes).toEqual([false]);
    server.answer(); // late: still down
    await vi.advanceTimersByTimeAsync(0);
    expect(health.available).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    server.answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(health.available).toBe(true);
    expect(changes).toEqual([false, true]);
  });

  it('a watched connection that is not ready makes it unavailable at once', () => {
    const { server, health } = setup();
    server.status = 'reconnecting';
    expect(health.available).toBe(false);
  });
});
