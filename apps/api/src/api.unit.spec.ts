import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@regstream/config';
import { loadCorpus } from '@regstream/corpus';
import type { AnyEnvelope, StoredEvent } from '@regstream/domain';
import { START } from '@regstream/event-store';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { Projector } from '@regstream/projections';
import { appendToStore, toStored } from '@regstream/projections/testing';
import { createInfrastructure, type Infrastructure, RuntimeModule } from '@regstream/runtime';
import { waitFor } from '@regstream/test-helpers';
import request from 'supertest';
import { ApiModule } from './api.module';
import { QueriesService } from './queries.service';
import { STREAM_OPTIONS } from './stream/stream.service';

const NOW = new Date('2026-11-29T12:00:00Z');
const ANNEX_III = 'Chapter III Sections 1-3 for high-risk AI systems under Art. 6(2) / Annex III (stand-alone)';
let dir: string;
let infra: Infrastructure;
let app: INestApplication;
let projector: Projector;
let key: string;
let cp = START;
let stored: StoredEvent[];

/** Applies what the store has that the read models do not (what the projector process does). */
async function project(): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (;;) {
    const page = await infra.store.readAll(cp, 1000);
    if (page.events.length === 0) return out;
    await projector.applyBatch('0', page.events, page.events.map((e) => e.position));
    out.push(...page.events);
    cp = page.checkpoint;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rs-api-'));
  infra = await createInfrastructure(loadConfig({ REGSTREAM_DATA_DIR: dir }));
  const moduleRef = await Test.createTestingModule({
    imports: [RuntimeModule.forRoot(infra, 'api', () => NOW), ApiModule],
    providers: [
      { provide: APP_GUARD, useClass: ApiKeyGuard },
      { provide: STREAM_OPTIONS, useValue: { pollMs: 30, settleMs: 3000 } },
    ],
  }).compile();
  app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
  setupHttp(app, { title: 'regstream api test' });
  await app.init();
  key = (await infra.apiKeys.issue('reader', ['read'])).secret;
  projector = new Projector(infra.dataSource, { clock: () => NOW });
  await appendToStore(infra.store, toStored(loadCorpus().events));
  stored = await project();
});

afterAll(async () => {
  await app.close();
  await infra.close();
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string) => request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${key}`);

describe('read API', () => {
  it('needs an API key', async () => {
    const res = await request(app.getHttpServer()).get('/v1/timeline').expect(401);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('GET /v1/timeline: lanes of milestones in valid-time order, future flagged, with citations and freshness', async () => {
    const res = await api('/v1/timeline?jurisdictions=EU,CN&asOf=2026-11-29').expect(200);
    expect(res.body).toMatchObject({ asOf: '2026-11-29T00:00:00.000Z', knownAt: null, truncated: false });
    expect(res.body.lanes.map((l: { jurisdiction: string }) => l.jurisdiction)).toEqual(['CN', 'EU']);
    const eu = res.body.lanes[1].milestones;
    const m = eu.find((x: { instrumentId: string; type: string }) => x.instrumentId === 'eu-ai-act' && x.type === 'InstrumentProposed');
    expect(m).toMatchObject({ instrumentTitle: expect.stringMatching(/Artificial Intelligence Act/), validTime: '2021-04-21', knownTime: '2021-04-21', future: false });
    expect(m.citation.url).toMatch(/^https?:/);
    expect(eu.some((x: { future: boolean }) => x.future)).toBe(true);
    expect(res.body.freshness.position).toBeTruthy();
    expect(Object.keys(res.body.coverage)).toContain('legal_bindingness');
    const then = await api('/v1/timeline?jurisdictions=EU&knownAt=2022-01-01').expect(200);
    expect(then.body.lanes[0].milestones.length).toBeLessThan(eu.length);
  });

  it('answers 304 to If-None-Match with the current ETag, and a new ETag when the question changes', async () => {
    const first = await api('/v1/stances?jurisdictions=EU').expect(200);
    const etag = first.headers['etag'] as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers['cache-control']).toBe('no-cache');
    const again = await api('/v1/stances?jurisdictions=EU').set('If-None-Match', etag).expect(304);
    expect(again.text).toBe('');
    const other = await api('/v1/stances?jurisdictions=EU&asOf=2020-01-01').set('If-None-Match', etag).expect(200);
    expect(other.headers['etag']).not.toBe(etag);
  });

  it('answers bad query parameters with 400 problem+json naming query.<param>', async () => {
    const cases: [string, string][] = [
      ['/v1/timeline?asOf=2024-02-30', 'query.asOf'],
      ['/v1/timeline?knownAt=yesterday', 'query.knownAt'],
      ['/v1/timeline?jurisdictions=EU,europe', 'query.jurisdictions'],
      ['/v1/timeline?limit=0', 'query.limit'],
      ['/v1/timeline?type=Nope', 'query.type'],
      ['/v1/instruments?instrument=Not_An_Id', 'query.instrument'],
      ['/v1/stances?dimension=charm', 'query.dimension'],
      ['/v1/divergence?variant=de_facto', 'query.variant'],
      ['/v1/divergence?weights=heavy', 'query.weights'],
      ['/v1/divergence?jurisdictions=EU', 'query.jurisdictions'],
      ['/v1/divergence/series?a=EU', 'query.b'],
      ['/v1/divergence/series?dimension=human_oversight,legal_bindingness', 'query.dimension'],
      ['/v1/gap?to=EU', 'query.from'],
      ['/v1/gap?from=US&to=US', 'query.to'],
      ['/v1/upcoming?days=99999', 'query.days'],
      ['/v1/stances?model=No%20Such', 'query.model'],
      ['/v1/stances?model=nosuch', 'query.model'],
    ];
    for (const [path, param] of cases) {
      const res = await api(path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(param);
    }
    const repeated = await api('/v1/timeline?asOf=2020-01-01&asOf=2021-01-01').expect(400);
    expect(repeated.body.errors[0]).toEqual({ path: 'query.asOf', message: 'expected a single value' });
  });

  it('GET /v1/instruments and /v1/instruments/:id carry status, citations and applicability; unknown is a 404 problem', async () => {
    const list = await api('/v1/instruments?jurisdictions=EU').expect(200);
    const act = list.body.instruments.find((i: { id: string }) => i.id === 'eu-ai-act');
    expect(act).toMatchObject({ jurisdiction: 'EU', kind: 'regulation', legalForce: 'binding', status: 'applicable' });
    expect(act.citation.url).toMatch(/^https?:/);
    expect(act.identifiers).toBeDefined();
    expect(list.body.freshness).toBeDefined();
    const before = await api('/v1/instruments/eu-ai-act?knownAt=2026-06-01').expect(200);
    const after = await api('/v1/instruments/eu-ai-act?knownAt=2026-08-01').expect(200);
    const annex = (b: { applicability: { provision: string; appliesFrom: string }[] }) => b.applicability.find((a) => a.provision === ANNEX_III)?.appliesFrom;
    expect(annex(before.body)).toBe('2026-08-02');
    expect(annex(after.body)).toBe('2027-12-02');
    expect(after.body.milestones.length).toBeGreaterThan(5);
    expect(after.body.instrument.id).toBe('eu-ai-act');
    const missing = await api('/v1/instruments/no-such-thing').expect(404);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    await api('/v1/instruments/eu-ai-act?knownAt=2020-01-01').expect(404);
    const bad = await api('/v1/instruments/Bad_Id').expect(400);
    expect(bad.body.errors[0].path).toBe('path.id');
  });

  it('GET /v1/stances: the matrix with validity intervals, evidence, citations, codebook version and coverage', async () => {
    const res = await api('/v1/stances?asOf=2025-07-26&jurisdictions=EU,US,CN&dimension=legal_bindingness,human_oversight').expect(200);
    expect(res.body).toMatchObject({ codebookVersion: '1.0.0', coverage: { legal_bindingness: 1, human_oversight: 1 } });
    expect(res.body.stances).toHaveLength(6);
    const eu = res.body.stances.find((s: { jurisdiction: string; dimension: string }) => s.jurisdiction === 'EU' && s.dimension === 'human_oversight');
    expect(eu).toMatchObject({ value: 3, confidence: expect.any(Number), basis: 'binding' });
    expect(eu.provisions.length).toBeGreaterThan(0);
    expect(eu.evidence).toBeTruthy();
    expect(eu.citation.url).toMatch(/^https?:/);
    expect(eu).toHaveProperty('validTo');
  });

  it('GET /v1/divergence: pairwise matrix, global index with dispersion, coverage, reference, versions', async () => {
    const res = await api('/v1/divergence?asOf=2025-07-26').expect(200);
    const b = res.body;
    expect(b.jurisdictions).toEqual(['CN', 'EU', 'GB', 'JP', 'KR', 'US']);
    expect(b.pairs).toHaveLength(15);
    expect(b).toMatchObject({ codebookVersion: '1.0.0', methodologyVersion: 'divergence-1', variant: 'all', weights: 'codebook' });
    for (const p of b.pairs) expect(p).toMatchObject({ codebookVersion: '1.0.0', methodologyVersion: 'divergence-1', coverage: { covered: expect.any(Array), missing: expect.any(Array) } });
    const euUs = b.pairs.find((p: { a: string; b: string }) => p.a === 'EU' && p.b === 'US');
    expect(euUs.value).toBeGreaterThan(0.3);
    expect(b.global).toMatchObject({ value: expect.any(Number), dispersion: expect.any(Number), pairs: 15, codebookVersion: '1.0.0', methodologyVersion: 'divergence-1' });
    expect(b.coverage.legal_bindingness).toBe(1);
    expect(b.reference.map((r: { jurisdiction: string }) => r.jurisdiction)).toContain('EU');
    expect(b.freshness.position).toBeTruthy();
    const dejure = await api('/v1/divergence?asOf=2025-07-26&variant=de_jure&weights=equal&jurisdictions=EU,US,CN').expect(200);
    expect(dejure.body.pairs).toHaveLength(3);
    expect(dejure.body).toMatchObject({ variant: 'de_jure', weights: 'equal' });
    const one = await api('/v1/divergence?asOf=2025-07-26&dimension=legal_bindingness').expect(200);
    expect(one.body.pairs.find((p: { a: string; b: string }) => p.a === 'EU' && p.b === 'US').coverage.covered).toEqual(['legal_bindingness']);
  });

  it('GET /v1/divergence/series: change points with causes, as known at knownAt', async () => {
    const res = await api('/v1/divergence/series').expect(200);
    expect(res.body).toMatchObject({ codebookVersion: '1.0.0', methodologyVersion: 'divergence-1' });
    expect(res.body.points.length).toBeGreaterThan(3);
    for (const p of res.body.points) expect(p).toMatchObject({ validFrom: expect.any(String), causedBy: expect.any(Array) });
    expect(res.body.points.some((p: { dispersion: number | null }) => p.dispersion !== null)).toBe(true);
    const pair = await api('/v1/divergence/series?a=US&b=EU&knownAt=2020-01-01').expect(200);
    expect(pair.body).toMatchObject({ a: 'EU', b: 'US', scope: 'pair' });
    expect(pair.body.points.length).toBeLessThan(res.body.points.length);
    const window = await api('/v1/divergence/series?from=2024-01-01&to=2025-12-31&dimension=human_oversight&jurisdictions=EU,US,CN').expect(200);
    expect(window.body.points.every((p: { validFrom: string }) => p.validFrom <= '2025-12-31T00:00:00.000Z')).toBe(true);
  });

  it('GET /v1/gap: what a deployer compliant in the US still owes in the EU', async () => {
    const res = await api('/v1/gap?from=US&to=EU&asOf=2025-07-26').expect(200);
    expect(res.body).toMatchObject({ from: 'US', to: 'EU', codebookVersion: '1.0.0', asOf: '2025-07-26T00:00:00.000Z', knownAt: null });
    expect(res.body.score).toBeGreaterThan(0);
    expect(res.body.items.map((i: { dimension: string }) => i.dimension)).toContain('legal_bindingness');
    expect(res.body.freshness).toBeDefined();
    const reverse = await api('/v1/gap?from=EU&to=US&asOf=2025-07-26').expect(200);
    expect(reverse.body.score).toBeLessThan(res.body.score);
  });

  it('GET /v1/upcoming: provisions applying within the window', async () => {
    const res = await api('/v1/upcoming?days=365').expect(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    for (const i of res.body.items) expect(i).toMatchObject({ instrumentId: expect.any(String), jurisdiction: expect.any(String), provision: expect.any(String), appliesFrom: expect.any(String) });
    expect(res.body.items.map((i: { appliesFrom: string }) => i.appliesFrom)).toEqual([...res.body.items.map((i: { appliesFrom: string }) => i.appliesFrom)].sort());
    const then = await api('/v1/upcoming?asOf=2026-06-01&knownAt=2026-06-01&days=90&jurisdictions=EU').expect(200);
    expect(then.body.items.map((i: { provision: string }) => i.provision)).toContain(ANNEX_III);
  });

  it('revalidates an as-of question from the model version alone, and runs the query again once the model changed', async () => {
    const queries = app.get(QueriesService);
    const path = '/v1/divergence?asOf=2026-01-01&jurisdictions=EU,US,CN';
    const first = await api(path).expect(200);
    const etag = first.headers['etag'] as string;
    const run = jest.spyOn(queries, 'divergence');
    try {
      // The first revalidation runs the query (nothing filed yet) and files the ETag under the version.
      await api(path).set('If-None-Match', etag).expect(304);
      expect(run).toHaveBeenCalledTimes(1);
      // From then on the version answers: 304, the query does not run.
      const again = await api(path).set('If-None-Match', etag).expect(304);
      expect(again.headers['etag']).toBe(etag);
      expect(run).toHaveBeenCalledTimes(1);
      // The same parameters in another order ask the same question.
      await api('/v1/divergence?jurisdictions=EU,US,CN&asOf=2026-01-01').set('If-None-Match', etag).expect(304);
      expect(run).toHaveBeenCalledTimes(1);
      // Without asOf the answer depends on the clock: the query always runs.
      await api('/v1/divergence?jurisdictions=EU,US,CN').set('If-None-Match', etag);
      expect(run).toHaveBeenCalledTimes(2);
      // The model changes (a batch is applied): the version moves, the query runs again.
      const before = await queries.version();
      const e = { ...(stored[0] as StoredEvent), id: 'revalidate-1', position: '990001' } as StoredEvent;
      await projector.applyBatch('revalidation', [e], ['1']);
      expect(await queries.version()).not.toBe(before);
      // (The answer carries the model's freshness, so it changed too.)
      const changed = await api(path).set('If-None-Match', etag).expect(200);
      expect(changed.headers['etag']).not.toBe(etag);
      expect(run).toHaveBeenCalledTimes(3);
    } finally {
      run.mockRestore();
    }
  });

  it('the model version moves with every batch and with a dead letter resolved by a retry', async () => {
    const queries = app.get(QueriesService);
    const v0 = await queries.version();
    expect(await queries.version()).toBe(v0);
    expect(await queries.version('v1')).toMatch(/^v1\|/);
    // A projector whose handler refuses one event: it is dead-lettered (the checkpoint moves).
    const e = { ...(stored[1] as StoredEvent), id: 'revalidate-poison', position: '990002' } as StoredEvent;
    const refusing = new Projector(infra.dataSource, {
      clock: () => NOW,
      beforeApply: (x) => {
        if (x.id === e.id) throw new Error('refused for the test');
      },
    });
    await refusing.applyBatch('revalidation', [e], ['2']);
    const v1 = await queries.version();
    expect(v1).not.toBe(v0);
    const [dl] = await projector.deadLetters({ status: 'open' });
    expect(dl?.eventId).toBe(e.id);
    // The retry applies it without moving any checkpoint: only the resolved dead letter says the model changed.
    expect((await projector.retryDeadLetter(dl?.id as number)).ok).toBe(true);
    expect(await queries.version()).not.toBe(v1);
  });

  it('documents every endpoint in OpenAPI', async () => {
    const res = await request(app.getHttpServer()).get('/docs/openapi.json').expect(200);
    for (const p of ['/v1/timeline', '/v1/instruments', '/v1/instruments/{id}', '/v1/stances', '/v1/divergence', '/v1/divergence/series', '/v1/gap', '/v1/upcoming', '/v1/stream']) {
      expect(Object.keys(res.body.paths)).toContain(p);
    }
  });
});

interface Sse {
  readonly frames: { id?: string; event?: string; data?: string }[];
  close(): void;
}

function listen(port: number, headers: Record<string, string> = {}): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const frames: Sse['frames'] = [];
    let buffer = '';
    const req = get({ host: '127.0.0.1', port, path: '/v1/stream', headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const f: { id?: string; event?: string; data?: string } = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): (.*)$/.exec(line);
            if (m) f[m[1] as 'id' | 'event' | 'data'] = m[2];
          }
          if (f.event) frames.push(f);
        }
      });
      resolve({ frames, close: () => req.destroy() });
    });
    req.on('error', () => undefined);
  });
}

describe('GET /v1/stream (server-sent events)', () => {
  let port: number;
  beforeAll(async () => {
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as { port: number }).port;
  });

  const stance = (id: string, value: number): AnyEnvelope =>
    ({
      specversion: '1.0',
      id,
      source: 'test',
      type: 'StanceCoded',
      schemaversion: 1,
      subject: 'stances-us',
      time: NOW.toISOString(),
      datacontenttype: 'application/json',
      validtime: '2026-11-01',
      knowntime: '2026-11-01',
      data: { jurisdiction: 'US', codebookVersion: '1.0.0', dimension: 'legal_bindingness', value, provisions: [], evidence: 'test', coder: 'test', confidence: 1, basis: 'binding' },
    });

  it('sends new events and index changes live, and resumes after Last-Event-ID', async () => {
    const live = await listen(port);
    await new Promise((r) => setTimeout(r, 100));
    await infra.store.append('stances-us', [stance('00000000-0000-4000-8000-00000000aa01', 3)]);
    await project();
    const event = await waitFor(() => live.frames.find((f) => f.event === 'regstream.event'), 5000);
    const sent = JSON.parse(event.data as string) as StoredEvent;
    expect(sent.id).toBe('00000000-0000-4000-8000-00000000aa01');
    expect(event.id).toBe(sent.position);
    const changed = await waitFor(() => live.frames.find((f) => f.event === 'divergence.changed'), 5000);
    const body = JSON.parse(changed.data as string) as { changed: { a: string; b: string }[]; causedBy: string[]; codebookVersion: string; global: { value: number } };
    expect(body.causedBy).toContain(sent.id);
    expect(body.changed.some((p) => p.a === 'US' || p.b === 'US')).toBe(true);
    expect(body.codebookVersion).toBe('1.0.0');

    await infra.store.append('stances-us', [stance('00000000-0000-4000-8000-00000000aa02', 2)]);
    await project();
    await waitFor(() => (live.frames.filter((f) => f.event === 'regstream.event').length >= 2 ? true : undefined), 5000);
    live.close();

    // Reconnect after the first event: only what followed it comes back.
    const resumed = await listen(port, { 'Last-Event-ID': event.id as string });
    const next = await waitFor(() => resumed.frames.find((f) => f.event === 'regstream.event'), 5000);
    expect((JSON.parse(next.data as string) as StoredEvent).id).toBe('00000000-0000-4000-8000-00000000aa02');
    await new Promise((r) => setTimeout(r, 200));
    expect(resumed.frames.filter((f) => f.event === 'regstream.event')).toHaveLength(1);
    resumed.close();

    const bad = await request(app.getHttpServer()).get('/v1/stream').set('Authorization', `Bearer ${key}`).set('Last-Event-ID', 'garbage').expect(400);
    expect(bad.body.errors[0].path).toBe('header.Last-Event-ID');
  });
});
