import 'reflect-metadata';
import { serveApp } from '@regstream/runtime';
import { ProjectorModule } from './projector.module';

/**
 * One projector process (distributed mode). Start several: they join one consumer group
 * (`projector.<topic>`, or REGSTREAM_PROJECTOR_GROUP_ID) and share the topic's partitions; each
 * partition's checkpoint commits with its read-model changes.
 * Serves health, metrics and the operator endpoints on PORT.
 */
serveApp({ name: 'projector', imports: () => [ProjectorModule] });
