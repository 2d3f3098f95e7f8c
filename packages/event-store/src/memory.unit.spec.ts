import { InMemoryEventStore } from './memory';
import { eventStoreContract } from './testing';

eventStoreContract('in-memory', () => Promise.resolve(new InMemoryEventStore()));
