/**
 * MariaDB → PostgreSQL (issue 3): a `mariadb --batch | COPY` pipe (the
 * tab-separated stream mariadb prints is COPY text) against syncline's full
 * sync and an idle re-sync.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ITEMS_DDL, ROWS, dropPg, pgUrl, printSection, psql, recreatePg, timeBaseline, timeSyncline, type Measurement } from './harness.js'

const MYSQL = new URL(process.env.SYNCLINE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test')
const DATABASE = 'syncline_bench'
const client = `mariadb -h ${MYSQL.hostname} -P ${MYSQL.port || 3306} -u ${decodeURIComponent(MYSQL.username || 'root')}`

function mariadb(sql: string, database = ''): string {
  return execFileSync('bash', ['-c', `${client} ${database} -N -B -e "$SQL"`], { encoding: 'utf8', env: { ...process.env, SQL: sql } })
}

/** Run the section in `work` (a temp directory). */
export function mariadbToPostgres(work: string): void {
  const [viaPipe, dst] = ['syncline_bench_mariadb_pipe', 'syncline_bench_from_mariadb']
  try {
    mariadb(`DROP DATABASE IF EXISTS ${DATABASE}; CREATE DATABASE ${DATABASE}`)
    mariadb(
      `CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL, amount DECIMAL(12,2) NOT NULL, status VARCHAR(20) NOT NULL, updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin;
       INSERT INTO items SELECT seq, CONCAT('item ', seq), CONCAT('user', seq, '@example.org'), (seq * 7919 % 1000000) / 100,
         ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'returned'), NOW(6) - INTERVAL (seq % 86400) SECOND FROM seq_1_to_${ROWS}`,
      DATABASE,
    )
    recreatePg(viaPipe, dst)
    psql(viaPipe, ITEMS_DDL)
    const results: Measurement[] = []
    results.push(timeBaseline('mariadb --batch | COPY', `${client} ${DATABASE} -N -B --quick -e "select * from items" | psql '${pgUrl(viaPipe)}' -c "copy items from stdin"`, () => psql(viaPipe, 'TRUNCATE items')))
    // As in the PostgreSQL section: the baseline's autovacuum work done before the first copy is timed.
    psql(viaPipe, 'VACUUM ANALYZE')
    const url = new URL(MYSQL)
    url.pathname = `/${DATABASE}`
    const config = join(work, 'mariadb.yaml')
    writeFileSync(
      config,
      `state: ./mariadb-state.db
connections:
  src: { url: "${url.toString()}" }
  dst: { url: "${pgUrl(dst)}" }
syncs:
  - { id: items, source: { connection: src, entity: items }, destination: { connection: dst, entity: items, create: true }, mode: full, batchSize: 10000 }
`,
    )
    results.push(timeSyncline('syncline full sync (empty destination)', config))
    results.push(timeSyncline('syncline idle re-sync (full compare)', config))
    const landed = psql(dst, 'SELECT count(*) FROM items').trim()
    if (Number(landed) !== ROWS) throw new Error(`destination has ${landed} rows, expected ${ROWS}`)
    printSection('MariaDB → PostgreSQL', results)
  } finally {
    dropPg(viaPipe, dst)
    mariadb(`DROP DATABASE IF EXISTS ${DATABASE}`)
  }
}
