import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_PROJECTOR, Queries } from '@regstream/projections';
import { CLOCK, INFRA, type Infrastructure } from '@regstream/runtime';
import { type Revalidation, RevalidationCache } from './respond';

type Scalar = string | number | null;

/** The read models' queries over the process's database. */
@Injectable()
export class QueriesService extends Queries {
  private readonly revalidated = new RevalidationCache();

  constructor(@Inject(INFRA) infra: Infrastructure, @Inject(CLOCK) clock: () => Date) {
    super(infra.dataSource, { clock });
  }

  /**
   * A token that changes with every commit that changes a model: which model is live (and since when),
   * its partitions' checkpoints (every applied batch moves one forward), and the dead letters resolved
   * into it (a retry changes the model without moving a checkpoint). One statement for the live model.
   */
  async version(model?: string): Promise<string> {
    const cols = (
      m: string,
    ) => `count(c.partition_id) AS n, sum(CAST(c.msg_offset AS NUMERIC)) AS offsets, max(c.updated_at) AS at,
      (SELECT max(d.resolved_at) FROM rm_dead_letters d WHERE d.projector = ? AND d.version = ${m} AND d.status = 'resolved') AS resolved`;
    let row: Record<string, Scalar> | undefined;
    if (model === undefined) {
      [row] = await this.db.query<Record<string, Scalar>>(
        `SELECT s.active_model AS model, s.switched_at AS switched, ${cols('s.active_model')}
         FROM rm_state s LEFT JOIN rm_checkpoints c ON c.projector = s.projector AND c.version = s.active_model
         WHERE s.projector = ? GROUP BY s.active_model, s.switched_at`,
        [DEFAULT_PROJECTOR, DEFAULT_PROJECTOR],
      );
    } else {
      const id = await this.resolveModel(this.db, model);
      const [r] = await this.db.query<Record<string, Scalar>>(
        `SELECT ${cols('?')} FROM rm_checkpoints c WHERE c.projector = ? AND c.version = ?`,
        [DEFAULT_PROJECTOR, id, DEFAULT_PROJECTOR, id],
      );
      row = { ...r, model: id, switched: null };
    }
    return ['model', 'switched', 'n', 'offsets', 'at', 'resolved']
      .map((k) => String(row?.[k] ?? ''))
      .join('|');
  }

  /** Revalidation of a request against `model` (default: the live one), for answers that do not depend on the clock. */
  revalidation(model?: string): Revalidation {
    return { cache: this.revalidated, version: () => this.version(model) };
  }
}
