import { createConnection } from 'node:net';
import { Client } from 'pg';
import { OwnPostgres, OwnRedis, TcpProxy } from './faults';

jest.setTimeout(120_000);

describe('fault-injection helpers', () => {
  it('runs a PostgreSQL cluster of its own, survives an immediate stop, and reaches it through a proxy', async () => {
    const pg = await OwnPostgres.create();
    const proxy = await TcpProxy.create('127.0.0.1', pg.port);
    try {
      const c = new Client({ connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/postgres` });
      c.on('error', () => undefined); // the dropped connection is the point of the test
      await c.connect();
      await c.query('CREATE TABLE t (x int)');
      await c.query('INSERT INTO t VALUES (1)');
      proxy.latencyMs = 100;
      const t0 = Date.now();
      await c.query('SELECT 1');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
      proxy.drop();
      await expect(c.query('SELECT 1')).rejects.toThrow();
      await c.end().catch(() => undefined);
      proxy.heal();
      await pg.stopImmediate();
      await pg.start();
      const c2 = new Client({ connectionString: pg.url });
      await c2.connect();
      expect((await c2.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 1 });
      await c2.end();
    } finally {
      await proxy.close();
      await pg.destroy();
    }
  });

  it('runs a Redis of its own: kill -9 loses its keys, a clean restart keeps them, a later crash comes back from that snapshot', async () => {
    const r = await OwnRedis.create();
    try {
      expect(r.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      expect(await redis(r.port, 'SET k 1')).toBe('+OK');
      r.kill9();
      await r.start();
      expect(await redis(r.port, 'GET k')).toBe('$-1');
      expect(await redis(r.port, 'SET k 2')).toBe('+OK');
      await r.shutdown(true);
      expect(r.hasSnapshot).toBe(true);
      await r.start();
      expect(await redis(r.port, 'GET k')).toBe('$1\r\n2');
      expect(await redis(r.port, 'SET k 3')).toBe('+OK');
      r.kill9();
      await r.start();
      // Back from the snapshot of the clean stop: the write after it is gone.
      expect(await redis(r.port, 'GET k')).toBe('$1\r\n2');
    } finally {
      await r.destroy();
    }
  });
});

/** One inline command over RESP; the reply without its final CRLF. */
function redis(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write(`${command}\r\n`));
    let reply = '';
    s.on('data', (d: Buffer) => {
      reply += d.toString('utf8');
      // A bulk string arrives as "$<n>\r\n<data>\r\n"; anything else is one line.
      if (/^\$\d+\r\n[\s\S]*\r\n$/.test(reply) || /^[+\-:]|^\$-1/.test(reply)) {
        s.end();
        resolve(reply.replace(/\r\n$/, ''));
      }
    });
    s.on('error', reject);
  });
}
