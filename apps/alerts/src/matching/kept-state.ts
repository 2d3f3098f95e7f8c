import type { StoredEvent } from '@regstream/domain';
import type { AlertsRepository } from '../repository';
import { KeptState, logEvent } from './engine';

/**
 * The matcher's state, rebuilt from alert_kept_events (shared by every alerts process) and refreshed
 * incrementally. Re-reads a small window behind the last sequence number, because on PostgreSQL a
 * lower sequence can commit after a higher one; events are de-duplicated by id.
 */
export class KeptStateLoader {
  private current = new KeptState();
  private lastSeq = 0;

  constructor(
    private readonly repo: AlertsRepository,
    private readonly window = 200,
  ) {}

  get state(): KeptState {
    return this.current;
  }

  async refresh(): Promise<KeptState> {
    let from = Math.max(0, this.lastSeq - this.window);
    for (;;) {
      const rows = await this.repo.keptSince(from, 1000);
      for (const r of rows) {
        const e = JSON.parse(r.body) as StoredEvent;
        if (!this.current.has(e.id)) this.current.add(logEvent(e));
        this.lastSeq = Math.max(this.lastSeq, r.seq);
      }
      if (rows.length < 1000) return this.current;
      from = rows[rows.length - 1]?.seq ?? from;
    }
  }

  /** Throws away what is in memory (after a failed transaction) and reloads from the table. */
  async reset(): Promise<KeptState> {
    this.current = new KeptState();
    this.lastSeq = 0;
    return this.refresh();
  }
}
