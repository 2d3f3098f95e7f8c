import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from './index';

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
}

// docker-compose.yml cannot run here (no Docker engine); this keeps it honest against the config schema.
const compose = parse(readFileSync(join(__dirname, '..', '..', '..', 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const apps = ['ingest', 'relay', 'projector', 'api', 'alerts', 'server'];

describe('docker-compose.yml', () => {
  it('runs Kafka in KRaft mode from the official image, PostgreSQL, Redis and every app', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...apps, 'kafka', 'postgres', 'redis'].sort());
    expect(compose.services['kafka']?.image).toBe('apache/kafka:3.9.2');
    expect(compose.services['kafka']?.environment?.['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
  });

  it('uses the native scripts’ ports', () => {
    expect(compose.services['postgres']?.ports).toContain('127.0.0.1:5432:5432');
    expect(compose.services['redis']?.ports).toContain('127.0.0.1:6379:6379');
    expect(compose.services['kafka']?.ports).toContain('127.0.0.1:9092:9092');
  });

  it.each(apps)('gives %s only variables the config schema knows, and a valid distributed config', (name) => {
    const env = compose.services[name]?.environment ?? {};
    const unknown = Object.keys(env).filter((k) => !CONFIG_VARIABLES.includes(k));
    expect(unknown).toEqual([]);
    const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));
    expect(config.mode).toBe('distributed');
    expect(config.KAFKA_BROKERS).toBe('kafka:9092');
  });

  it('starts each app from a built entry point', () => {
    for (const name of apps) expect(compose.services[name]?.command?.[1]).toMatch(/^apps\/[a-z]+\/dist\/[a-z-]+\.js$/);
  });
});
