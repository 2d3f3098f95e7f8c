import type { MigrationInterface, QueryRunner } from 'typeorm';
import { bitemporalIndexDdl, deadLetterDdl, dropModelDdl, MODEL_LAYOUT, modelDdl, modelPrefix, SHARED_TABLES, tableDdl } from './schema';
import type { Dialect } from './sql';
import { MODEL_TOKENS, modelTokensDdl } from './warm';

export const DEFAULT_PROJECTOR = 'projector';

async function up(q: QueryRunner, dialect: Dialect): Promise<void> {
  for (const t of SHARED_TABLES) for (const s of tableDdl(dialect, t)) await q.query(s);
  for (const s of deadLetterDdl(dialect)) await q.query(s);
  for (const s of modelDdl(dialect, 'v1')) await q.query(s);
  const ph = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
  const epoch = new Date(0).toISOString();
  await q.query(
    `INSERT INTO rm_state (projector, active_model, switched_at) VALUES (${ph(1)}, ${ph(2)}, ${ph(3)}) ON CONFLICT (projector) DO NOTHING`,
    [DEFAULT_PROJECTOR, 'v1', epoch],
  );
  await q.query(
    `INSERT INTO rm_models (model, kind, version, name, status, params, layout, created_at, events)
     VALUES (${ph(1)}, 'version', 1, NULL, 'active', '{}', ${ph(2)}, ${ph(3)}, 0) ON CONFLICT (model) DO NOTHING`,
    ['v1', MODEL_LAYOUT, epoch],
  );
}

async function down(q: QueryRunner): Promise<void> {
  const rows = (await q.query(`SELECT model FROM rm_models`)) as { model: string }[];
  for (const r of rows) for (const s of dropModelDdl(r.model)) await q.query(s);
  for (const t of ['rm_dead_letters', 'rm_checkpoints', 'rm_models', 'rm_state']) await q.query(`DROP TABLE IF EXISTS ${t}`);
}

/** Read models on PostgreSQL: bookkeeping tables and version 1 of the model tables. */
export class ProjectionsInitPostgres1764400000200 implements MigrationInterface {
  name = 'ProjectionsInitPostgres1764400000200';
  up(q: QueryRunner): Promise<void> {
    return up(q, 'postgres');
  }
  down(q: QueryRunner): Promise<void> {
    return down(q);
  }
}

/** Read models on SQLite: the same tables. */
export class ProjectionsInitSqlite1764400000200 implements MigrationInterface {
  name = 'ProjectionsInitSqlite1764400000200';
  up(q: QueryRunner): Promise<void> {
    return up(q, 'sqlite');
  }
  down(q: QueryRunner): Promise<void> {
    return down(q);
  }
}

/**
 * Apply tokens (see warm.ts): one per model, rotated by every transaction that adds facts, so a
 * projector can tell whether the stance history it keeps in memory is still the model's.
 */
export class ProjectionsModelTokensPostgres1764400000300 implements MigrationInterface {
  name = 'ProjectionsModelTokensPostgres1764400000300';
  async up(q: QueryRunner): Promise<void> {
    await q.query(modelTokensDdl('postgres'));
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${MODEL_TOKENS}`);
  }
}

export class ProjectionsModelTokensSqlite1764400000300 implements MigrationInterface {
  name = 'ProjectionsModelTokensSqlite1764400000300';
  async up(q: QueryRunner): Promise<void> {
    await q.query(modelTokensDdl('sqlite'));
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${MODEL_TOKENS}`);
  }
}

/**
 * ADR 0010: the first index of milestones and stances carries the known-time columns. Models built
 * before get it here; a model whose tables are gone (a failed build) is passed over.
 */
async function bitemporalIndexes(q: QueryRunner, dialect: Dialect, previous: boolean): Promise<void> {
  const models = (await q.query(`SELECT model FROM rm_models`)) as { model: string }[];
  for (const { model } of models) {
    const table = `${modelPrefix(model)}stances`;
    const exists =
      dialect === 'postgres'
        ? ((await q.query(`SELECT to_regclass($1) AS t`, [table])) as { t: string | null }[])[0]?.t
        : ((await q.query(`SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name = ?`, [table])) as { t: string }[])[0]?.t;
    if (!exists) continue;
    for (const s of bitemporalIndexDdl(model, previous)) await q.query(s);
  }
}

export class ProjectionsBitemporalIndexesPostgres1764400000700 implements MigrationInterface {
  name = 'ProjectionsBitemporalIndexesPostgres1764400000700';
  up(q: QueryRunner): Promise<void> {
    return bitemporalIndexes(q, 'postgres', false);
  }
  down(q: QueryRunner): Promise<void> {
    return bitemporalIndexes(q, 'postgres', true);
  }
}

export class ProjectionsBitemporalIndexesSqlite1764400000700 implements MigrationInterface {
  name = 'ProjectionsBitemporalIndexesSqlite1764400000700';
  up(q: QueryRunner): Promise<void> {
    return bitemporalIndexes(q, 'sqlite', false);
  }
  down(q: QueryRunner): Promise<void> {
    return bitemporalIndexes(q, 'sqlite', true);
  }
}

/** The read-model migrations for a dialect, to append to the ordered migration list. */
export function projectionMigrations(kind: 'postgres' | 'sqlite'): (new () => unknown)[] {
  return kind === 'postgres'
    ? [ProjectionsInitPostgres1764400000200, ProjectionsModelTokensPostgres1764400000300, ProjectionsBitemporalIndexesPostgres1764400000700]
    : [ProjectionsInitSqlite1764400000200, ProjectionsModelTokensSqlite1764400000300, ProjectionsBitemporalIndexesSqlite1764400000700];
}
