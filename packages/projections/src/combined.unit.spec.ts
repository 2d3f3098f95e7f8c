import { combine, type Part, PreparedStatements, split } from './combined';

describe('combined statements', () => {
  const parts: Part[] = [
    { sql: `SELECT active_model FROM rm_state WHERE projector = ?`, params: ['projector'], columns: ['active_model'] },
    { sql: `SELECT vt, position, event_id, payload FROM ms WHERE jurisdiction = ?`, params: ['EU'], columns: ['vt', 'position', 'event_id', 'payload'], order: 'vt, position, event_id' },
  ];

  it('numbers parameters in order of appearance: the WITH list first, then each part', () => {
    const s = combine(parts, { sql: `ms AS (SELECT * FROM t WHERE a = ?)`, params: ['a'] });
    expect(s.params).toEqual(['a', 'projector', 'EU']);
    expect(s.sql.startsWith('WITH ms AS (SELECT * FROM t WHERE a = ?) SELECT q, c0, c1, c2, c3 FROM (')).toBe(true);
    expect(s.sql).toContain('row_number() OVER (ORDER BY p.vt, p.position, p.event_id) AS n');
    expect(s.sql).toContain('NULL::text AS c3');
    expect(s.sql.endsWith(') u ORDER BY q, n')).toBe(true);
    // As many placeholders as parameters.
    expect(s.sql.split('?').length - 1).toBe(s.params.length);
  });

  it('gives each part its rows back under its own column names, NULLs kept', () => {
    const rows = [
      { q: 0, c0: 'v2', c1: null, c2: null, c3: null },
      { q: 1, c0: '2024-01-01', c1: '7', c2: 'e1', c3: '{}' },
      { q: 1, c0: '2024-01-02', c1: '9', c2: 'e2', c3: null },
    ];
    expect(split(parts, rows)).toEqual([
      [{ active_model: 'v2' }],
      [
        { vt: '2024-01-01', position: '7', event_id: 'e1', payload: '{}' },
        { vt: '2024-01-02', position: '9', event_id: 'e2', payload: null },
      ],
    ]);
    expect(() => split(parts, [{ q: 2, c0: 'x' }])).toThrow(/no part/);
  });

  it('names at most `max` distinct statements per process, and the same text always by the same name', async () => {
    const calls: { name?: string; text: string; values: unknown[] }[] = [];
    const pool = {
      query: (config: { name?: string; text: string; values: unknown[] }) => {
        calls.push(config);
        return Promise.resolve({ rows: [{ q: 0 }] });
      },
    };
    const ps = new PreparedStatements(() => pool, 2);
    await ps.query('SELECT ? AS a', [1]);
    await ps.query('SELECT ? AS b', [2]);
    await ps.query('SELECT ? AS a', [3]);
    await ps.query('SELECT ? AS c', [4]);
    expect(calls.map((c) => c.text)).toEqual(['SELECT $1 AS a', 'SELECT $1 AS b', 'SELECT $1 AS a', 'SELECT $1 AS c']);
    expect(calls[0]?.name).toBeDefined();
    expect(calls[2]?.name).toBe(calls[0]?.name);
    expect(calls[1]?.name).not.toBe(calls[0]?.name);
    expect(calls[3]?.name).toBeUndefined();
    expect(calls.map((c) => c.values)).toEqual([[1], [2], [3], [4]]);
  });
});
