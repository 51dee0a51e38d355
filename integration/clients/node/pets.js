#!/usr/bin/env node
// Streamlit's pets example and a few protocol checks through node-postgres (pg).
//
// Usage: node pets.js [URL | HOST PORT DBNAME]   (run `npm ci` here first)
// Default: $XCONNPROXY_URL, else postgresql://postgres@127.0.0.1:6544/pets_db.
// Prints one line per check and "N passed, M failed"; exits 1 on any failure.
'use strict';

process.env.TZ = 'UTC';  // pg parses DATE/TIMESTAMP as local time; compare in UTC

const { Client } = require('pg');

function connectionString(argv) {
  if (argv.length >= 3) {
    const user = process.env.PGUSER || 'postgres';
    return `postgresql://${user}@${argv[0]}:${argv[1]}/${argv[2]}`;
  }
  if (argv.length >= 1) return argv[0];
  return process.env.XCONNPROXY_URL || 'postgresql://postgres@127.0.0.1:6544/pets_db';
}

const URL = connectionString(process.argv.slice(2));
const results = { passed: 0, failed: 0 };
const checks = [];
const check = (name, fn) => checks.push([name, fn]);

function expect(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

async function withClient(fn) {
  const c = new Client({ connectionString: URL, ssl: false });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function expectError(promise, code, what) {
  try {
    await promise;
  } catch (err) {
    expect(err.code === code, `${what}: SQLSTATE ${err.code} (${err.message}), want ${code}`);
    return err;
  }
  throw new Error(`assertion failed: ${what} succeeded, want SQLSTATE ${code}`);
}

const PETS = [['jerry', 'fish'], ['barbara', 'cat'], ['alex', 'puppy']];
const PETS_SORTED = [...PETS].sort((a, b) => a[0].localeCompare(b[0]));
const TRICKY = 'O\'Brien said "hi" \\ naïve café, 日本語, emoji 🐍';
const BLOB = Buffer.from([0, 1, 2, 0x27, 0x5c, 0xfe, 0xff]);

check('server_identity', () => withClient(async (c) => {
  const v = (await c.query('SELECT version()')).rows[0].version;
  expect(v.startsWith('PostgreSQL '), `version() = ${v}`);
  const num = (await c.query("SELECT current_setting('server_version_num') AS n")).rows[0].n;
  expect(Number(num) >= 150000, `server_version_num ${num}`);
  const sch = (await c.query('SELECT current_schema() AS s')).rows[0].s;
  expect(sch === 'public', `current_schema() = ${sch}`);
}));

check('pets_transaction', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS pet_owners');
  await c.query('CREATE TABLE pet_owners (person TEXT, pet TEXT)');
  await c.query('BEGIN');
  for (const [person, pet] of PETS) {
    const r = await c.query('INSERT INTO pet_owners (person, pet) VALUES ($1, $2)', [person, pet]);
    expect(r.rowCount === 1, `rowCount ${r.rowCount}`);
  }
  await c.query('COMMIT');
  const r = await c.query('SELECT person, pet FROM pet_owners ORDER BY person');
  const got = r.rows.map((x) => [x.person, x.pet]);
  expect(JSON.stringify(got) === JSON.stringify(PETS_SORTED), `rows ${JSON.stringify(got)}`);
  expect(r.rowCount === 3 && r.command === 'SELECT', `command ${r.command} ${r.rowCount}`);
}));

check('typed_roundtrip', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS typed_rt');
  await c.query('CREATE TABLE typed_rt (id INTEGER, big BIGINT, r DOUBLE PRECISION,'
    + ' t TEXT, b BYTEA, flag BOOLEAN, n TEXT)');
  // node-postgres sends every parameter untyped (OID 0) and as text,
  // except Buffers, which it sends in binary format.
  const rows = [
    [1, 2 ** 40 + 7, 3.25, TRICKY, BLOB, true, null],
    [2, -5, -0.1, '', Buffer.from([0]), false, null],
  ];
  for (const row of rows) {
    await c.query('INSERT INTO typed_rt (id, big, r, t, b, flag, n) VALUES ($1, $2, $3, $4, $5, $6, $7)', row);
  }
  const r = await c.query('SELECT id, big, r, t, b, flag, n FROM typed_rt ORDER BY id');
  expect(r.rows.length === 2, `${r.rows.length} rows`);
  r.rows.forEach((got, i) => {
    const want = rows[i];
    // INTEGER is int4 on PostgreSQL (a JS number) and int8 through xconnproxy
    // (node-postgres returns int8 as a string), so compare numerically.
    expect(Number(got.id) === want[0], `id ${got.id}`);
    expect(Number(got.big) === want[1], `big ${got.big}`);
    expect(got.r === want[2], `r ${got.r}`);
    expect(got.t === want[3], `t ${got.t}`);
    expect(Buffer.isBuffer(got.b) && got.b.equals(want[4]), `b ${got.b && got.b.toString('hex')}`);
    expect(got.flag === want[5], `flag ${JSON.stringify(got.flag)}`);
    expect(got.n === null, `n ${got.n}`);
  });
}));

check('text_and_null_params_roundtrip', () => withClient(async (c) => {
  // Same as typed_roundtrip without the binary Buffer parameter.
  await c.query('DROP TABLE IF EXISTS typed_nb');
  await c.query('CREATE TABLE typed_nb (id INTEGER, big BIGINT, r DOUBLE PRECISION, t TEXT, flag BOOLEAN, n TEXT)');
  await c.query('INSERT INTO typed_nb VALUES ($1, $2, $3, $4, $5, $6)', [1, 2 ** 40 + 7, 3.25, TRICKY, true, null]);
  await c.query('INSERT INTO typed_nb VALUES ($1, $2, $3, $4, $5, $6)', [2, -5, -0.1, '', false, null]);
  const r = await c.query('SELECT id, big, r, t, flag, n FROM typed_nb ORDER BY id');
  const got = r.rows.map((x) => [Number(x.id), Number(x.big), x.r, x.t, x.flag, x.n]);
  const want = [[1, 2 ** 40 + 7, 3.25, TRICKY, true, null], [2, -5, -0.1, '', false, null]];
  expect(JSON.stringify(got) === JSON.stringify(want), `rows ${JSON.stringify(got)}`);
  const byText = await c.query('SELECT id FROM typed_nb WHERE t = $1', [TRICKY]);
  expect(byText.rows.length === 1 && Number(byText.rows[0].id) === 1, `WHERE t = $1: ${JSON.stringify(byText.rows)}`);
  const byBig = await c.query('SELECT id FROM typed_nb WHERE big = $1', [2 ** 40 + 7]);
  expect(byBig.rows.length === 1, `WHERE big = $1: ${JSON.stringify(byBig.rows)}`);
}));

check('boolean_param_matches_boolean_literal', () => withClient(async (c) => {
  // A row written with the SQL literal TRUE must be found by WHERE flag = $1
  // with the parameter true (sent untyped as the text 'true').
  await c.query('DROP TABLE IF EXISTS bool_xcp');
  await c.query('CREATE TABLE bool_xcp (id INTEGER, flag BOOLEAN)');
  await c.query('INSERT INTO bool_xcp VALUES (1, TRUE), (2, FALSE)');
  await c.query('INSERT INTO bool_xcp VALUES ($1, $2), ($3, $4)', [3, true, 4, false]);
  const t = await c.query('SELECT id FROM bool_xcp WHERE flag = $1 ORDER BY id', [true]);
  const ids = t.rows.map((x) => Number(x.id));
  expect(JSON.stringify(ids) === '[1,3]', `WHERE flag = $1 (true) matched ids ${JSON.stringify(ids)}, want [1,3]`);
  const all = await c.query('SELECT id, flag FROM bool_xcp ORDER BY id');
  const flags = all.rows.map((x) => x.flag);
  expect(JSON.stringify(flags) === '[true,false,true,false]', `flags ${JSON.stringify(flags)}`);
}));

check('date_timestamp_roundtrip', () => withClient(async (c) => {
  // node-postgres sends a JS Date untyped, as local time with its offset
  // ("2024-05-01T12:30:15.123+00:00", TZ being UTC here).
  const d = new Date(Date.UTC(2024, 4, 1));
  const ts = new Date(Date.UTC(2024, 4, 1, 12, 30, 15, 123));
  await c.query('DROP TABLE IF EXISTS dt_rt');
  await c.query('CREATE TABLE dt_rt (id INTEGER, d DATE, ts TIMESTAMP)');
  await c.query('INSERT INTO dt_rt (id, d, ts) VALUES ($1, $2, $3)', [1, '2024-05-01', ts]);
  const r = await c.query('SELECT d, ts FROM dt_rt WHERE id = 1');
  const got = r.rows[0];
  expect(got.d instanceof Date && got.d.getTime() === d.getTime(), `d ${got.d}`);
  expect(got.ts instanceof Date && got.ts.getTime() === ts.getTime(), `ts ${got.ts && got.ts.toISOString()}`);
  const w = await c.query('SELECT id FROM dt_rt WHERE d = $1 AND ts = $2', ['2024-05-01', ts]);
  expect(w.rows.length === 1, `WHERE d = $1 AND ts = $2 matched ${w.rows.length}`);
}));

check('empty_bytea_roundtrip', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS empty_bytea');
  await c.query('CREATE TABLE empty_bytea (id INTEGER, b BYTEA)');
  await c.query('INSERT INTO empty_bytea (id, b) VALUES ($1, $2)', [1, Buffer.alloc(0)]);
  const b = (await c.query('SELECT b FROM empty_bytea WHERE id = 1')).rows[0].b;
  expect(Buffer.isBuffer(b) && b.length === 0, `empty bytea came back as ${JSON.stringify(b)}`);
}));

check('error_in_transaction_then_rollback', () => withClient(async (c) => {
  await c.query('BEGIN');
  await c.query('INSERT INTO pet_owners (person, pet) VALUES ($1, $2)', ['zed', 'ghost']);
  await expectError(c.query('SELECT * FROM no_such_table_xcp'), '42P01', 'query on a missing table');
  await expectError(c.query('SELECT 1'), '25P02', 'statement in failed transaction');
  await c.query('ROLLBACK');
  const n = await c.query('SELECT count(*) AS n FROM pet_owners WHERE person = $1', ['zed']);
  expect(Number(n.rows[0].n) === 0, `rolled-back row visible (${n.rows[0].n})`);
  const r = await c.query('SELECT person FROM pet_owners ORDER BY person');
  expect(JSON.stringify(r.rows.map((x) => x.person)) === JSON.stringify(PETS_SORTED.map((p) => p[0])),
    `rows ${JSON.stringify(r.rows)}`);
}));

check('savepoint', () => withClient(async (c) => {
  await c.query('BEGIN');
  await c.query("INSERT INTO pet_owners (person, pet) VALUES ('sp_keep', 'dog')");
  await c.query('SAVEPOINT s1');
  await c.query("INSERT INTO pet_owners (person, pet) VALUES ('sp_drop', 'cat')");
  await expectError(c.query('SELECT * FROM no_such_table_xcp'), '42P01', 'missing table');
  await c.query('ROLLBACK TO SAVEPOINT s1');
  await c.query('COMMIT');
  const r = await c.query("SELECT person FROM pet_owners WHERE person LIKE 'sp_%'");
  expect(JSON.stringify(r.rows.map((x) => x.person)) === '["sp_keep"]', `rows ${JSON.stringify(r.rows)}`);
  await c.query("DELETE FROM pet_owners WHERE person LIKE 'sp_%'");
}));

check('unique_violation', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS uniq_xcp');
  await c.query('CREATE TABLE uniq_xcp (id INTEGER PRIMARY KEY, name TEXT UNIQUE)');
  await c.query('INSERT INTO uniq_xcp (id, name) VALUES ($1, $2)', [1, 'a']);
  await c.query('BEGIN');
  await expectError(c.query('INSERT INTO uniq_xcp (id, name) VALUES ($1, $2)', [1, 'b']), '23505', 'duplicate key');
  await c.query('ROLLBACK');
  const n = await c.query('SELECT count(*) AS n FROM uniq_xcp');
  expect(Number(n.rows[0].n) === 1, `count ${n.rows[0].n}`);
}));

check('named_prepared_statement_reuse', () => withClient(async (c) => {
  // A named query is parsed once (Parse "pets_by_person") and then only bound.
  for (let i = 0; i < 7; i++) {
    const [person, pet] = PETS_SORTED[i % 3];
    const r = await c.query({ name: 'pets_by_person', text: 'SELECT pet FROM pet_owners WHERE person = $1', values: [person] });
    expect(r.rows.length === 1 && r.rows[0].pet === pet, `iteration ${i}: ${JSON.stringify(r.rows)}`);
  }
}));

(async () => {
  for (const [name, fn] of checks) {
    try {
      await fn();
      results.passed++;
      console.log(`ok   ${name}`);
    } catch (err) {
      results.failed++;
      const code = err.code ? ` [SQLSTATE ${err.code}]` : '';
      console.log(`FAIL ${name}: ${err.message}${code}`);
    }
  }
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exit(results.failed ? 1 : 0);
})();
