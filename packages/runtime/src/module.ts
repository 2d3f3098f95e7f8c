import { type DynamicModule, Global, Module } from '@nestjs/common';
import { API_KEYS, createMetricsRegistry, HealthController, METRICS, RATE_LIMITER, READINESS_CHECKS } from '@regstream/http';
import type { Infrastructure } from './infrastructure';

export const INFRA = Symbol('INFRA');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const CLOCK = Symbol('CLOCK');

/**
 * Hands the adapters to every feature module. Built once per process: the all-in-one server shares
 * one set between ingest, projector, api, alerts and dashboard.
 */
@Global()
@Module({})
export class RuntimeModule {
  static forRoot(infra: Infrastructure, app: string, clock: () => Date = () => new Date()): DynamicModule {
    return {
      module: RuntimeModule,
      controllers: [HealthController],
      providers: [
        { provide: INFRA, useValue: infra },
        { provide: EVENT_STORE, useValue: infra.store },
        { provide: API_KEYS, useValue: infra.apiKeys },
        { provide: RATE_LIMITER, useValue: infra.rateLimiter },
        { provide: READINESS_CHECKS, useValue: infra.readiness },
        { provide: METRICS, useValue: createMetricsRegistry(app) },
        { provide: CLOCK, useValue: clock },
      ],
      exports: [INFRA, EVENT_STORE, API_KEYS, RATE_LIMITER, READINESS_CHECKS, METRICS, CLOCK],
    };
  }
}
