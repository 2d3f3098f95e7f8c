import { Inject, Injectable } from '@nestjs/common';
import type { EventStore } from '@regstream/event-store';
import { CLOCK, EVENT_STORE } from '@regstream/runtime';
import { EventIngestor } from '../ingestor';
import { RelayService } from '../relay/relay.service';

@Injectable()
export class IngestService {
  readonly ingestor: EventIngestor;

  constructor(@Inject(EVENT_STORE) store: EventStore, @Inject(CLOCK) clock: () => Date, relay: RelayService) {
    // Wake the relay after each commit so live lag is not bounded by its poll interval.
    this.ingestor = new EventIngestor(store, clock, undefined, () => relay.wake());
  }
}
