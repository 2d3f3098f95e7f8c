import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@regstream/config';
import { parse } from 'yaml';
import { busEvent } from '../testing';
import { toKafkaMessage } from './cloudevents';

const doc = parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'asyncapi.yaml'), 'utf8')) as {
  channels: { regulatoryEvents: { address: string } };
  components: { messages: { regulatoryEvent: { headers: { required: string[]; properties: Record<string, { pattern?: string }> } } } };
};

describe('docs/asyncapi.yaml', () => {
  it('names the topic the services use', () => {
    expect(doc.channels.regulatoryEvents.address).toBe(loadConfig({}).KAFKA_TOPIC_EVENTS);
  });
  it('describes every header the relay sends', () => {
    const headers = doc.components.messages.regulatoryEvent.headers;
    const sent = toKafkaMessage({ ...busEvent('instrument-x', 1), correlationid: 'c', causationid: 'd', idempotencykey: 'k' }).headers;
    for (const h of headers.required) expect(Object.keys(sent)).toContain(h);
    for (const h of Object.keys(sent)) expect(Object.keys(headers.properties)).toContain(h);
    expect(sent['ce_type']).toMatch(new RegExp(headers.properties['ce_type']?.pattern ?? '^$'));
  });
});
