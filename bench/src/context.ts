import type { Kafka } from 'kafkajs';
import type { Row } from './report';
import { type BenchTopics, KAFKA_BROKERS, REDIS_URL } from './services';

export interface Sizes {
  /** Events per single-append measurement at 1 and at 16 clients, and for the 100-event batches. */
  readonly single1: number;
  readonly single16: number;
  readonly batch: number;
  /** History sizes for rebuild and as-of queries. */
  readonly histories: readonly number[];
  /** Events in the Emmett comparison's projection rebuild. */
  readonly emmettRebuild: number;
}

export interface BenchContext {
  readonly profile: 'quick' | 'full';
  readonly seed: number;
  readonly sizes: Sizes;
  /** Wall-clock cap of one closed-loop measurement. */
  readonly durationMs: number;
  /** Names of processes (ingest, relay, projector, api, alerts) to run under --cpu-prof. */
  readonly cpuProf: ReadonlySet<string>;
  /** `--skip-live`: the read suite leaves out the live lag (minutes) to measure the as-of queries alone. */
  readonly skipLive: boolean;
  readonly kafka: Kafka;
  readonly topics: BenchTopics;
  readonly rows: Row[];
  readonly notes: string[];
  /** Run when the current suite ends (its processes, pools, databases), in reverse order, whatever happened. */
  readonly cleanup: (() => Promise<void>)[];
  /** Run at the very end of the run (what a later suite still needs, e.g. the write suite's database). */
  readonly cleanupAtEnd: (() => Promise<void>)[];
  log(msg: string): void;
}

/** Environment of an app child process in distributed mode. */
export function appEnv(databaseUrl: string, port: number, topic: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: KAFKA_BROKERS.join(','),
    REDIS_URL,
    PORT: String(port),
    HOST: '127.0.0.1',
    KAFKA_TOPIC_EVENTS: topic,
    KAFKA_CLIENT_ID: 'regstream-bench',
    REGSTREAM_IMPORT_CORPUS: 'false',
    REGSTREAM_RATE_LIMIT_PER_MINUTE: '1000000000',
    REGSTREAM_DATA_DIR: `/tmp/regstream-bench-${port}`,
    ...extra,
  };
}
