import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CODEBOOK_V1 } from '@regstream/domain';
import { ProblemDetailsFilter, securityHeaders } from '@regstream/http';
import request from 'supertest';
import { dashboardPaths } from './dashboard.controller';
import { DashboardModule } from './dashboard.module';

describe('DashboardModule', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const mod = await Test.createTestingModule({ imports: [DashboardModule] }).compile();
    app = mod.createNestApplication({ logger: false });
    app.use(securityHeaders);
    app.useGlobalFilters(new ProblemDetailsFilter());
    await app.init();
  });

  afterAll(async () => {
    await app.close();
  });

  it('serves the page at / under the strict CSP, with every script in a file', async () => {
    const res = await request(app.getHttpServer()).get('/').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    const html = res.text;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src="\/assets\/[a-z0-9.-]+\.js"/);
      expect(body?.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('labels every form control', () => {
    const html = readFileSync(join(dashboardPaths().staticDir, 'index.html'), 'utf8');
    const ids = [...html.matchAll(/<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"[^>]*>/g)].map((m) => ({ id: m[1] as string, tag: m[0] }));
    expect(ids.length).toBeGreaterThan(15);
    for (const { id, tag } of ids) {
      const labelled = html.includes(`for="${id}"`) || /aria-label(ledby)?="/.test(tag);
      if (!labelled) throw new Error(`#${id} has no label`);
    }
  });

  it('serves ECharts, the stylesheet and the codebook', async () => {
    const ec = await request(app.getHttpServer()).get('/assets/echarts.min.js').expect(200);
    expect(ec.headers['content-type']).toMatch(/javascript/);
    await request(app.getHttpServer()).get('/assets/app.css').expect(200).expect('content-type', /text\/css/);
    const meta = await request(app.getHttpServer()).get('/assets/meta.json').expect(200);
    expect((meta.body as { codebook: { dimensions: { id: string }[] } }).codebook.dimensions.map((d) => d.id)).toEqual(CODEBOOK_V1.dimensions.map((d) => d.id));
  });

  it('serves the compiled browser modules when built, and nothing outside its folders', async () => {
    const built = (() => {
      try {
        return readdirSync(dashboardPaths().scriptsDir).filter((f) => f.endsWith('.js'));
      } catch {
        return [];
      }
    })();
    for (const f of built) await request(app.getHttpServer()).get(`/assets/${f}`).expect(200);
    for (const bad of ['/assets/..%2Fpackage.json', '/assets/.env', '/assets/index.html', '/assets/missing.js']) {
      const res = await request(app.getHttpServer()).get(bad);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    }
  });
});
