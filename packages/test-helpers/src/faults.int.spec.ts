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

  it('runs a Redis of its own that can be killed and restarted', async () => {
    const r = await OwnRedis.create();
    try {
      r.kill9();
      await r.start();
      expect(r.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await r.destroy();
    }
  });
});
