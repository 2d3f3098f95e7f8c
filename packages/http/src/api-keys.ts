import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

export const SCOPES = ['events:write', 'read', 'subscriptions:manage', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  readonly keyId: string;
  /** Who owns what this key creates (subscriptions, deliveries). */
  readonly principal: string;
  readonly scopes: readonly Scope[];
}

export interface IssuedKey extends Principal {
  /** Shown once; only its hash is stored. */
  readonly secret: string;
}

/** Keys look like `rs_<id>_<secret>`: the id finds the row, the secret is checked against a hash. */
const KEY_FORMAT = /^rs_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

function hash(secret: string): Buffer {
  // Keys carry 256 random bits, so a fast hash is enough; there is nothing to brute-force.
  return createHash('sha256').update(secret).digest();
}

export class ApiKeyMigrationPostgres1764400000100 implements MigrationInterface {
  name = 'ApiKeyMigrationPostgres1764400000100';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS api_keys (
      key_id text PRIMARY KEY, principal text NOT NULL, scopes text NOT NULL, hash bytea NOT NULL,
      label text, created_at text NOT NULL, revoked_at text)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS api_keys`);
  }
}

export class ApiKeyMigrationSqlite1764400000100 implements MigrationInterface {
  name = 'ApiKeyMigrationSqlite1764400000100';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS api_keys (
      key_id TEXT PRIMARY KEY, principal TEXT NOT NULL, scopes TEXT NOT NULL, hash BLOB NOT NULL,
      label TEXT, created_at TEXT NOT NULL, revoked_at TEXT)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS api_keys`);
  }
}

export class ApiKeyService {
  private readonly cache = new Map<string, { principal: Principal; hash: Buffer; at: number }>();

  constructor(
    private readonly ds: DataSource,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private get ph(): (i: number) => string {
    return this.ds.options.type === 'postgres' ? (i) => `$${i}` : () => '?';
  }

  async issue(principal: string, scopes: readonly Scope[], label?: string): Promise<IssuedKey> {
    const keyId = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12).padEnd(12, '0');
    const secret = randomBytes(32).toString('base64url');
    const p = this.ph;
    await this.ds.query(
      `INSERT INTO api_keys (key_id, principal, scopes, hash, label, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
      [keyId, principal, JSON.stringify(scopes), hash(secret), label ?? null, this.clock().toISOString()],
    );
    return { keyId, principal, scopes, secret: `rs_${keyId}_${secret}` };
  }

  async revoke(keyId: string): Promise<void> {
    const p = this.ph;
    await this.ds.query(`UPDATE api_keys SET revoked_at = ${p(1)} WHERE key_id = ${p(2)}`, [this.clock().toISOString(), keyId]);
    this.cache.delete(keyId);
  }

  /** The key's principal, or null for an unknown, malformed or revoked key. */
  async verify(presented: string): Promise<Principal | null> {
    const m = KEY_FORMAT.exec(presented);
    if (!m) return null;
    const [, keyId, secret] = m as unknown as [string, string, string];
    let entry = this.cache.get(keyId);
    if (!entry || Date.now() - entry.at > 30_000) {
      const p = this.ph;
      const rows = await this.ds.query<{
        key_id: string;
        principal: string;
        scopes: string;
        hash: Buffer;
      }[]>(`SELECT key_id, principal, scopes, hash FROM api_keys WHERE key_id = ${p(1)} AND revoked_at IS NULL`, [keyId]);
      const row = rows[0];
      if (!row) {
        this.cache.delete(keyId);
        return null;
      }
      entry = { principal: { keyId, principal: row.principal, scopes: JSON.parse(row.scopes) as Scope[] }, hash: Buffer.from(row.hash), at: Date.now() };
      this.cache.set(keyId, entry);
    }
    const candidate = hash(secret);
    return candidate.length === entry.hash.length && timingSafeEqual(candidate, entry.hash) ? entry.principal : null;
  }

  async count(): Promise<number> {
    const rows = await this.ds.query<{ n: number | string }[]>(`SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`);
    return Number(rows[0]?.n ?? 0);
  }
}

export function hasScope(p: Principal, needed: Scope): boolean {
  return p.scopes.includes('admin') || p.scopes.includes(needed);
}
