import { Inject, Injectable } from '@nestjs/common';
import { Queries } from '@regstream/projections';
import { CLOCK, INFRA, type Infrastructure } from '@regstream/runtime';

/** The read models' queries over the process's database. */
@Injectable()
export class QueriesService extends Queries {
  constructor(@Inject(INFRA) infra: Infrastructure, @Inject(CLOCK) clock: () => Date) {
    super(infra.dataSource, { clock });
  }
}
