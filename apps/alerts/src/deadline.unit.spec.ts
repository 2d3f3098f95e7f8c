import type { Infrastructure } from '@regstream/runtime';
import { jobIdOf } from './repository';
import { client, sleep, until } from './testing/client';
import { type AlertsTestApp, embeddedInfra, event, registered, startAlertsApp, TestClock } from './testing/harness';
import { Receiver } from './testing/receiver';
import { verifyStandardWebhook } from './testing/standard-webhooks';

let infra: Infrastructure;
let cleanup: () => Promise<void>;
let t: AlertsTestApp;
let receiver: Receiver;

const clock = new TestClock();
beforeAll(async () => {
  ({ infra, cleanup } = await embeddedInfra());
  clock.setNow('2027-07-31T23:59:57.000Z'); // three seconds before 1 August
  t = await startAlertsApp(infra, {}, clock);
  receiver = await Receiver.start();
});
afterAll(async () => {
  await t.close();
  await receiver.close();
  await cleanup();
});

type Delivery = { id: string; kind: string; status: string; nextAttemptAt?: string; payload: { type: string; data: Record<string, unknown> } };
const deliveries = async (subscriptionId: string) =>
  (await client(t.url, t.keys.alice).get<{ deliveries: Delivery[] }>(`/v1/deliveries?subscriptionId=${subscriptionId}`)).body.deliveries;

const PROVISION = 'Art. 6 high-risk obligations';

describe('deadline reminders', () => {
  it('schedules a reminder N days ahead, and a postponement cancels it, schedules the new one and tells the subscriber', async () => {
    await t.append(
      registered('eu-ai-act-t', 'EU'),
      event('ProvisionBecameApplicable', { instrumentId: 'eu-ai-act-t', provision: PROVISION }, { validtime: '2027-08-02', knowntime: '2024-07-12' }),
      event('ProvisionBecameApplicable', { instrumentId: 'eu-ai-act-t', provision: 'Art. 5 prohibitions' }, { validtime: '2025-02-02', knowntime: '2024-07-12' }),
    );
    const created = await client(t.url, t.keys.alice).post('/v1/subscriptions', {
      name: 'EU AI Act deadlines',
      filters: { jurisdictions: ['EU'] },
      rule: { kind: 'deadline', daysBefore: 1 },
      channel: { kind: 'webhook', url: `${receiver.url}/deadline` },
    });
    expect(created.status).toBe(201);
    const subId = String(created.body['id']);
    const secret = String(created.body['secret']);

    // Scheduled from the upcoming-applicability state: one reminder, due 2027-08-01 (the past provision has none).
    const [first] = await deliveries(subId);
    expect(first).toMatchObject({ kind: 'deadline', status: 'pending', nextAttemptAt: '2027-08-01T00:00:00.000Z' });
    expect(first?.payload.data).toMatchObject({ instrumentId: 'eu-ai-act-t', provision: PROVISION, appliesFrom: '2027-08-02', daysBefore: 1 });
    const firstJob = jobIdOf(String(first?.id), 1);
    expect(await t.queue.has(firstJob)).toBe(true);

    // The EU postpones the high-risk obligations.
    const postponed = event(
      'ApplicationPostponed',
      { instrumentId: 'eu-ai-act-t', provision: PROVISION, previousDate: '2027-08-02', newDate: '2028-08-02', byInstrument: 'eu-digital-omnibus' },
      { validtime: '2027-07-30' },
    );
    await t.append(postponed);
    const moved = await until(() => receiver.requests.find((r) => r.path === '/deadline'));
    const body = JSON.parse(moved.body) as { type: string; data: Record<string, unknown> };
    expect(body.type).toBe('regstream.deadline.moved');
    expect(body.data).toMatchObject({
      instrumentId: 'eu-ai-act-t',
      provision: PROVISION,
      previousDate: '2027-08-02',
      newDate: '2028-08-02',
      direction: 'postponed',
      reminder: { fireAt: '2028-08-01T00:00:00.000Z' },
      cause: { eventId: postponed.id, type: 'ApplicationPostponed' },
    });
    expect(await verifyStandardWebhook(secret, { headers: moved.headers, body: moved.body })).toBe(true);

    const all = await deliveries(subId);
    const old = all.find((d) => d.id === first?.id);
    const next = all.find((d) => d.kind === 'deadline' && d.status === 'pending');
    expect(old?.status).toBe('cancelled');
    expect(next?.nextAttemptAt).toBe('2028-08-01T00:00:00.000Z');
    expect(await t.queue.has(firstJob)).toBe(false);
    // A year ahead: kept in the delivery log; the reconciler puts it on the queue when it comes near.
    expect(await t.queue.has(jobIdOf(String(next?.id), 1))).toBe(false);
    t.clock.advance(366 * 86_400_000);
    expect(await t.deliveries.repo.pendingPage('', 10, new Date(t.clock.now().getTime() + 2_147_000_000).toISOString())).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: next?.id })]),
    );
    t.clock.advance(-366 * 86_400_000);

    // The old due time passes: no reminder for the old date.
    await sleep(3500);
    expect(receiver.requests.filter((r) => r.path === '/deadline').map((r) => (JSON.parse(r.body) as { type: string }).type)).toEqual(['regstream.deadline.moved']);

    // Brought forward again to within a day: the reminder is due at once, and the move is reported.
    await t.append(
      event(
        'ApplicationBroughtForward',
        { instrumentId: 'eu-ai-act-t', provision: PROVISION, previousDate: '2028-08-02', newDate: '2027-08-02' },
        { validtime: '2027-08-01' },
      ),
    );
    const types = await until(() => {
      const list = receiver.requests.filter((r) => r.path === '/deadline').map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
      return list.length >= 3 ? list : undefined;
    });
    expect(types.map((x) => x.type).sort()).toEqual(['regstream.deadline.moved', 'regstream.deadline.moved', 'regstream.deadline.reminder']);
    const reminder = types.find((x) => x.type === 'regstream.deadline.reminder');
    expect(reminder?.data).toMatchObject({ provision: PROVISION, appliesFrom: '2027-08-02', daysBefore: 1 });
    expect(await t.queue.has(jobIdOf(String(next?.id), 1))).toBe(false);
    const final = await deliveries(subId);
    expect(final.filter((d) => d.kind === 'deadline').map((d) => d.status).sort()).toEqual(['cancelled', 'delivered']);
  });

  it('reschedules when a subscription changes its lead time, and cancels on delete', async () => {
    await t.append(event('ProvisionBecameApplicable', { instrumentId: 'eu-ai-act-t', provision: 'Art. 50 transparency' }, { validtime: '2029-01-01', knowntime: '2024-07-12' }));
    const alice = client(t.url, t.keys.alice);
    const created = await alice.post('/v1/subscriptions', {
      name: 'transparency',
      filters: { instruments: ['eu-ai-act-t'] },
      rule: { kind: 'deadline', daysBefore: 30 },
      channel: { kind: 'sse' },
    });
    const subId = String(created.body['id']);
    // Art. 6 applies tomorrow (brought forward above), so its 30-day reminder is already due: sent at once.
    const art6 = await until(async () => (await deliveries(subId)).find((d) => d.status === 'delivered'));
    expect(art6.payload.data).toMatchObject({ provision: PROVISION, appliesFrom: '2027-08-02', daysBefore: 30 });
    const pending = (await deliveries(subId)).filter((d) => d.status === 'pending');
    expect(pending.map((d) => d.nextAttemptAt)).toEqual(['2028-12-02T00:00:00.000Z']);
    await alice.patch(`/v1/subscriptions/${subId}`, { rule: { kind: 'deadline', daysBefore: 10 } });
    const after = (await deliveries(subId)).filter((d) => d.status === 'pending');
    expect(after.map((d) => d.nextAttemptAt)).toEqual(['2028-12-22T00:00:00.000Z']);
    // same reminder (same provision and date), so the same message id, moved to its new time
    expect(after[0]?.id).toBe(pending[0]?.id);
    expect(after[0]?.payload.data['daysBefore']).toBe(10);
    // the reminder already sent is not sent again
    expect((await deliveries(subId)).filter((d) => d.status === 'delivered')).toHaveLength(1);
    expect((await alice.del(`/v1/subscriptions/${subId}`)).status).toBe(204);
    const gone = await t.repo.db.query<{ status: string }>(`SELECT status FROM alert_deliveries WHERE subscription_id = $1 AND status = 'pending'`, [subId]);
    expect(gone).toEqual([]);
  });
});
