import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@regstream/config';
import { loadCorpus } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import { START } from '@regstream/event-store';
import { ApiKeyGuard, ProblemDetailsFilter } from '@regstream/http';
import { appendToStore, toStored } from '@regstream/projections/testing';
import { createInfrastructure, type Infrastructure, RuntimeModule } from '@regstream/runtime';
import { waitFor } from '@regstream/test-helpers';
import request from 'supertest';
import { ProjectorModule } from './projector.module';
import { ProjectorService } from './projector.service';

let dir: string;
let infra: Infrastructure;
let app: INestApplication;
let admin: string;
let reader: string;
let stored: StoredEvent[];

async function readAll(): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cp = START;
  for (;;) {
    const page = await infra.store.readAll(cp, 1000);
    if (page.events.length === 0) return out;
    out.push(...page.events);
    cp = page.checkpoint;
  }
}

const facts = async () => Number((await infra.dataSource.query<{ n: number }[]>(`SELECT count(*) AS n FROM rm_v1_facts`))[0]?.n);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rs-projector-'));
  infra = await createInfrastructure(loadConfig({ REGSTREAM_DATA_DIR: dir }));
  const moduleRef = await Test.createTestingModule({
    imports: [RuntimeModule.forRoot(infra, 'projector'), ProjectorModule],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  app.useGlobalFilters(new ProblemDetailsFilter());
  await app.init();
  admin = (await infra.apiKeys.issue('ops', ['admin'])).secret;
  reader = (await infra.apiKeys.issue('reader', ['read'])).secret;
  await appendToStore(infra.store, toStored(loadCorpus().events));
  stored = await readAll();
});

afterAll(async () => {
  await app.close();
  await infra.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ProjectorModule (embedded: in-process bus, SQLite)', () => {
  it('consumes the bus as the projector group and keeps the read models', async () => {
    const seen: number[] = [];
    app.get(ProjectorService).onBatch((o) => seen.push(o.applied));
    for (let i = 0; i < stored.length; i += 100) await infra.publisher.publish(stored.slice(i, i + 100));
    await waitFor(async () => ((await facts()) === stored.length ? true : undefined), 20_000);
    expect(seen.reduce((s, n) => s + n, 0)).toBe(stored.length);
    // The same events delivered again (a relay publishing twice, a consumer re-reading): nothing changes.
    const service = app.get(ProjectorService);
    const before = (await service.projector.checksum()).digest;
    const again = stored.slice(0, 50);
    const outcome = await service.handle({ partition: 'replayed', events: again, offsets: again.map((_, i) => String(i)) });
    expect(outcome).toMatchObject({ applied: 0, duplicates: 50 });
    expect((await service.projector.checksum()).digest).toBe(before);
  });

  it('applies the batches handed over in one turn (one Kafka fetch) in one transaction', async () => {
    const service = app.get(ProjectorService);
    const { transactions, batches } = service.stats;
    const parts = ['fetch-a', 'fetch-b', 'fetch-c'];
    const outcomes = await Promise.all(
      parts.map((partition, k) => {
        const events = stored.slice(k * 10, k * 10 + 10);
        return service.handle({ partition, events, offsets: events.map((_, i) => String(i)) });
      }),
    );
    expect(outcomes.map((o) => o.partition)).toEqual(parts);
    expect(outcomes.map((o) => o.duplicates)).toEqual([10, 10, 10]);
    expect(service.stats.batches - batches).toBe(3);
    expect(service.stats.transactions - transactions).toBe(1);
  });

  it('shows the models, checkpoints and freshness to operators, and only to them', async () => {
    await request(app.getHttpServer()).get('/v1/admin/projections').set('Authorization', `Bearer ${reader}`).expect(403);
    const res = await request(app.getHttpServer()).get('/v1/admin/projections').set('Authorization', `Bearer ${admin}`).expect(200);
    expect(res.body.active).toBe('v1');
    expect(res.body.freshness.position).toBe(stored[stored.length - 1]?.position);
    expect(res.body.checkpoints.length).toBeGreaterThan(0);
    const sum = await request(app.getHttpServer()).get('/v1/admin/checksum').set('Authorization', `Bearer ${admin}`).expect(200);
    expect(sum.body.tables.facts.rows).toBe(stored.length);
  });

  it('dead-letters a poison event without stopping its partition; operators list, retry and discard it', async () => {
    const poison = { ...(stored[0] as StoredEvent), id: 'poison-1', type: 'NoSuchEvent', position: '900001' } as unknown as StoredEvent;
    const after = { ...(stored[0] as StoredEvent), id: 'after-poison', subject: stored[0]?.subject, position: '900002', data: { ...(stored[0]?.data as object) } } as StoredEvent;
    await infra.publisher.publish([poison]);
    await waitFor(() => (app.get(ProjectorService).stats.deadLettered >= 1 ? true : undefined));
    const list = await request(app.getHttpServer()).get('/v1/admin/dead-letters').set('Authorization', `Bearer ${admin}`).expect(200);
    expect(list.body.deadLetters).toHaveLength(1);
    const dl = list.body.deadLetters[0];
    expect(dl).toMatchObject({ eventId: 'poison-1', status: 'open', attempts: 1 });
    expect(dl.error).toContain("unknown event type 'NoSuchEvent'");
    expect(dl.payload.type).toBe('NoSuchEvent');
    // The partition goes on: a later event on it is applied.
    await infra.publisher.publish([after]);
    await waitFor(async () => ((await facts()) === stored.length + 1 ? true : undefined));

    const retry = await request(app.getHttpServer()).post(`/v1/admin/dead-letters/${dl.id}/retry`).set('Authorization', `Bearer ${admin}`).expect(200);
    expect(retry.body).toMatchObject({ ok: false, deadLetter: { attempts: 2, status: 'open' } });
    await request(app.getHttpServer()).post(`/v1/admin/dead-letters/${dl.id}/discard`).set('Authorization', `Bearer ${admin}`).expect(200, { discarded: true });
    const open = await request(app.getHttpServer()).get('/v1/admin/dead-letters').set('Authorization', `Bearer ${admin}`).expect(200);
    expect(open.body.deadLetters).toEqual([]);
    await request(app.getHttpServer()).post('/v1/admin/dead-letters/999/retry').set('Authorization', `Bearer ${admin}`).expect(404);
    const bad = await request(app.getHttpServer()).get('/v1/admin/dead-letters?status=nope').set('Authorization', `Bearer ${admin}`).expect(400);
    expect(bad.body.errors[0].path).toBe('query.status');
  });

  it('rebuilds into a new version in the background, switches live when caught up, and keeps consuming', async () => {
    await request(app.getHttpServer()).post('/v1/admin/rebuild').set('Authorization', `Bearer ${admin}`).send({ knownAt: 'nope' }).expect(422);
    await request(app.getHttpServer()).post('/v1/admin/rebuild').set('Authorization', `Bearer ${admin}`).send({}).expect(202);
    const status = await waitFor(async () => {
      const r = await request(app.getHttpServer()).get('/v1/admin/rebuild').set('Authorization', `Bearer ${admin}`);
      return r.body.rebuild?.result ? r.body.rebuild : undefined;
    }, 20_000);
    expect(status.result).toMatchObject({ model: 'v2', switched: true });
    expect(status.progress.phase).toBe('done');
    const service = app.get(ProjectorService);
    expect(await service.projector.activeModel()).toBe('v2');
    // v2 holds what v1 held (the event applied live above included), and the consumer carries on in v2.
    expect((await service.projector.checksum('v2')).digest).toBe((await service.projector.checksum('v1')).digest);
    const late = { ...(stored[1] as StoredEvent), id: 'late-1', position: '900003' } as StoredEvent;
    await infra.publisher.publish([late]);
    await waitFor(async () => ((await infra.dataSource.query<{ n: number }[]>(`SELECT count(*) AS n FROM rm_v2_facts WHERE event_id = 'late-1'`))[0]?.n === 1 ? true : undefined));
  });
});
