import { Controller, Get, Inject, Optional, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { Public } from './auth';

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
export const METRICS = Symbol('METRICS');

/** A named dependency check for /readyz (database, Kafka, Redis...). */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

export function createMetricsRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  return registry;
}

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    @Inject(METRICS) private readonly metrics: Registry,
    @Optional() @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[] = [],
  ) {}

  /** Liveness: the process answers. */
  @Public()
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: every dependency answers within a second. */
  @Public()
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const results = await Promise.all(
      (this.checks ?? []).map(async (c) => {
        try {
          await Promise.race([c.check(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 1000).unref())]);
          return { name: c.name, ok: true };
        } catch (e) {
          return { name: c.name, ok: false, error: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not-ready', checks: results });
  }

  @Public()
  @Get('metrics')
  async prometheus(@Res() res: Response): Promise<void> {
    res.type(this.metrics.contentType).send(await this.metrics.metrics());
  }
}
