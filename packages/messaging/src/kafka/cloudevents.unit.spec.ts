import { busEvent } from '../testing';
import { fromKafkaMessage, MalformedMessageError, toKafkaMessage } from './cloudevents';

describe('CloudEvents binary mode', () => {
  it('round-trips an event through ce_* headers and a JSON body', () => {
    const e = { ...busEvent('instrument-x', 3), correlationid: 'c1', idempotencykey: 'k1' };
    const m = toKafkaMessage(e);
    expect(m.key).toBe('instrument-x');
    expect(m.headers['ce_type']).toBe('org.regstream.InstrumentProposed.v1');
    expect(m.headers['ce_specversion']).toBe('1.0');
    expect(JSON.parse(m.value)).toEqual(e.data);
    const headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(fromKafkaMessage({ value: Buffer.from(m.value), headers })).toEqual(e);
  });
  it('refuses a message that is not a regstream CloudEvent', () => {
    expect(() => fromKafkaMessage({ value: Buffer.from('{}'), headers: { ce_type: Buffer.from('com.other.Thing') } })).toThrow(MalformedMessageError);
  });
});
