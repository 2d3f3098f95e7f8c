import { ConfigError, loadConfig } from './index';

describe('loadConfig', () => {
  it('defaults to the embedded mode with no variables', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('embedded');
    expect(c.PORT).toBe(8080);
    expect(c.KAFKA_TOPIC_EVENTS).toBe('regstream.regulatory-events.v1');
  });
  it('switches to distributed when all three services are set', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/regstream', KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c.mode).toBe('distributed');
  });
  it.each([
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'not a broker' }],
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'eighty' }],
  ])('names %s when it is malformed', (name, env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (e) {
      expect((e as ConfigError).variables).toContain(name);
      expect((e as Error).message).toContain(name);
    }
  });
  it('names the missing variables when only some services are set', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://127.0.0.1/x' })).toThrow(/KAFKA_BROKERS, REDIS_URL/);
  });
});
