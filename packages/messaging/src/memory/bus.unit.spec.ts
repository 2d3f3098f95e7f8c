import { busContract } from '../testing';
import { InProcessBus } from './bus';

busContract('in-process bus', () => {
  const bus = new InProcessBus(6);
  return Promise.resolve({ publisher: bus, source: () => bus.source(), close: () => bus.close() });
});
