import { ConfigError, consumerGroupId, loadConfig } from './index';

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

describe('consumer groups and live-path settings', () => {
  it('derives the projector group from the topic unless it is set', () => {
    const c = loadConfig({ KAFKA_TOPIC_EVENTS: 'events.eu' });
    expect(consumerGroupId('projector', c.KAFKA_TOPIC_EVENTS, c.REGSTREAM_PROJECTOR_GROUP_ID)).toBe('projector.events.eu');
    const set = loadConfig({ REGSTREAM_PROJECTOR_GROUP_ID: 'projector-blue' });
    expect(consumerGroupId('projector', set.KAFKA_TOPIC_EVENTS, set.REGSTREAM_PROJECTOR_GROUP_ID)).toBe('projector-blue');
  });
  it('defaults the session timeout and the relay poll, and refuses values Kafka or the relay cannot use', () => {
    const c = loadConfig({});
    expect(c.REGSTREAM_PROJECTOR_SESSION_TIMEOUT_MS).toBe(30_000);
    expect(c.REGSTREAM_RELAY_POLL_MS).toBe(1000);
    expect(c.REGSTREAM_RELAY_COALESCE_MS).toBe(10);
    expect(() => loadConfig({ REGSTREAM_PROJECTOR_SESSION_TIMEOUT_MS: '1000' })).toThrow(/REGSTREAM_PROJECTOR_SESSION_TIMEOUT_MS/);
    expect(() => loadConfig({ REGSTREAM_RELAY_POLL_MS: '0' })).toThrow(/REGSTREAM_RELAY_POLL_MS/);
  });
});
