/**
 * The commented plan `syncline init` writes: a SQLite → SQLite sync that runs
 * as is, and commented examples of every setting (DESIGN §1.1).
 */

/**
 * The starter `syncline.yaml`. It validates as written; the commented examples
 * validate too once uncommented (with WAREHOUSE_PASSWORD set).
 */
export const STARTER_PLAN = `# syncline.yaml: what to keep in step, and how.
#
#   syncline validate          check this file (add --live to check the databases too)
#   syncline run               run every sync once (add --dry-run to only show the changes)
#   syncline status            watermarks and last runs
#
# Relative paths are resolved against this file's directory.

# Where watermarks and run history are kept. Default: .syncline/state.db.
# A postgres:// URL shares state between machines.
# state: .syncline/state.db

# How long run history is kept: a run goes once it is older than keepDays AND
# beyond the newest keepRuns of its sync (syncline prune; serve prunes hourly).
# history: { keepDays: 30, keepRuns: 1000 }

connections:
  # A connection is a URL: sqlite:PATH, postgres://user@host:5432/db or mysql://user@host:3306/db
  shop:
    url: sqlite:./shop.db
  backup:
    url: sqlite:./backup.db
  # warehouse:
  #   url: postgres://sync@127.0.0.1:5432/warehouse
  #   password: \${WAREHOUSE_PASSWORD}                 # read from the environment; keep secrets out of this file

syncs:
  # A full sync: copies every customer, updates changed rows, deletes removed ones.
  - id: customers
    source: { connection: shop, entity: customers }
    destination: { connection: backup, entity: customers, create: true }   # create: make the table if missing
    # keys: [id]                                       # fields that identify a row; default: the primary key
    # mode: full                                       # full | incremental | realtime
    # deletes: propagate                               # propagate | ignore (rows deleted in the source)
    # batchSize: 5000                                  # rows read and written per batch

  # An incremental sync into PostgreSQL: each run reads only the rows changed since the last one.
  # - id: orders
  #   source: { connection: shop, entity: orders }
  #   destination: { connection: warehouse, entity: public.orders, create: true }
  #   mode: incremental
  #   cursor: updated_at                               # a field that increases whenever a row changes
  #   lookback: 60s                                    # re-read this far behind the last run, for late commits
  #   softDelete: deleted_at                           # a non-null value here means the row is deleted
  #   filters:                                         # ops: = != > >= < <= in not_in like is_null is_not_null
  #     - { field: status, op: "!=", value: draft }
  #     - { field: country, op: in, value: [DE, FR, NL] }
  #   mapping:
  #     auto: true                                     # map same-named fields (ignoring case, spaces and _)
  #     exclude: [internal_note]                       # source fields never mapped automatically
  #     fields:
  #       - { source: total, destination: amount }
  #       - { source: customer_name, destination: first_name, transform: "SPLIT(customer_name, ' ', 0)" }
  #       - { destination: label, transform: "CONCAT(UPPER(country), '-', id)" }
  #   maxErrors: 10                                    # rejected rows tolerated before the run fails
  #   schedule: "*/30 * * * *"                         # cron, seconds optional; \`syncline serve\` runs it on this schedule
  #   timezone: Europe/Berlin                          # the schedule's time zone (default: the plan's timezone:, else the machine's)
  #   retries: 3                                       # transient failures (connection lost, deadlock, timeout) retried
  #   retryDelay: 1s                                   # first retry's delay; doubles each time, with jitter, capped at 5 min
  #   foreignKeys: auto                                # auto (parents first; checks off only for cycles) | defer | check
  #   schema: evolve                                   # source field added/dropped/renamed: evolve | ignore | fail (default: evolve if created, else fail)

  # A two-way sync: changes on either side are copied to the other (docs/two-way.md).
  # - id: contacts
  #   source: { connection: shop, entity: contacts }
  #   destination: { connection: warehouse, entity: public.contacts }
  #   mode: incremental                                # incremental (each run) or realtime (change feeds on both sides)
  #   direction: two-way                               # one-way | two-way
  #   cursor: updated_at                               # needed to tell which side changed
  #   destinationCursor: modified                      # the destination's cursor, if not the field cursor maps to
  #   conflict: latest-wins                            # latest-wins | source-wins | destination-wins | merge | manual
  #   conflictTies: source                             # latest-wins: who wins equal cursors
`

/**
 * SQL that creates and fills the source table of {@link STARTER_PLAN}
 * (`customers` in `shop.db`), so `syncline init` can leave a plan that runs.
 */
export const STARTER_SOURCE_SQL = `CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT,
  country TEXT,
  updated_at TEXT NOT NULL
);
INSERT OR IGNORE INTO customers (id, name, email, country, updated_at) VALUES
  (1, 'Ada Lovelace', 'ada@example.org', 'GB', '2026-01-05T09:30:00.000000Z'),
  (2, 'Grace Hopper', 'grace@example.org', 'US', '2026-01-06T14:00:00.000000Z'),
  (3, 'Edsger Dijkstra', 'edsger@example.org', 'NL', '2026-01-07T08:15:00.000000Z');
`
