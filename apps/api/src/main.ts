import 'reflect-metadata';
import { serveApp } from '@regstream/runtime';
import { ApiModule } from './api.module';

/**
 * The read API as a process of its own (distributed mode): timeline, instruments, stances,
 * divergence and the live stream over the read models the projectors keep. Start as many as the
 * load needs; they share nothing but the database. Serves health and metrics on PORT too.
 */
serveApp({ name: 'api', imports: () => [ApiModule] });
