import { applicability, asKnownAt, type LogEvent, type StoredEvent, isMilestoneType, stanceMatrix } from '@regstream/domain';

/** The domain's bitemporal functions over a stored log: the oracle the read models are checked against. */
export function asLog(events: readonly StoredEvent[]): LogEvent[] {
  return events.map((e) => ({ ...e, order: Number(e.position) }));
}

export function oracleStances(log: readonly LogEvent[], asOf: string, knownAt?: string): Map<string, { eventId: string; value: unknown; validFrom: string }> {
  const out = new Map<string, { eventId: string; value: unknown; validFrom: string }>();
  for (const [j, row] of stanceMatrix(log, asOf, knownAt)) {
    for (const [d, f] of row) out.set(`${j}/${d}`, { eventId: f.eventId, value: f.value, validFrom: f.validFrom });
  }
  return out;
}

export function oracleApplicability(log: readonly LogEvent[], instrumentId: string, asOf: string, knownAt?: string): { provision: string; appliesFrom: string }[] {
  return applicability(log, { instrumentId, asOf, ...(knownAt !== undefined ? { knownAt } : {}) })
    .map((a) => ({ provision: a.provision, appliesFrom: a.appliesFrom }))
    .sort((x, y) => (x.provision < y.provision ? -1 : x.provision > y.provision ? 1 : 0));
}

export function oracleMilestones(log: readonly LogEvent[], knownAt?: string): Map<string, string> {
  return new Map(asKnownAt(log, knownAt).filter((e) => isMilestoneType(e.type)).map((e) => [e.id, e.validtime]));
}
