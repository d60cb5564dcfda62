/**
 * The store's schema as an append-only list of migrations: migration i brings the database from
 * `PRAGMA user_version` i to i+1. Never edit a released step; add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE clusters (
    id          TEXT PRIMARY KEY,
    vni         INTEGER NOT NULL UNIQUE CHECK (vni BETWEEN 1 AND 16777215),
    tunnel      TEXT NOT NULL CHECK (tunnel IN ('vxlan', 'gre')),
    description TEXT NOT NULL DEFAULT ''
  ) STRICT;

  CREATE TABLE members (
    cluster_id  TEXT NOT NULL REFERENCES clusters (id),
    vm_id       TEXT NOT NULL,
    vint0       TEXT NOT NULL,
    endpoint    TEXT,
    description TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (cluster_id, vm_id),
    UNIQUE (cluster_id, vint0),
    -- NULLs are distinct in SQLite, so many members may have no endpoint yet.
    UNIQUE (cluster_id, endpoint)
  ) STRICT;

  -- History tables keep no foreign keys: the record outlives the member it is about.
  CREATE TABLE linking_reports (
    id         INTEGER PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    vm_id      TEXT NOT NULL,
    linking_ms REAL NOT NULL,
    at         TEXT NOT NULL
  ) STRICT;
  CREATE INDEX linking_reports_member ON linking_reports (cluster_id, vm_id);

  CREATE TABLE rebinds (
    id           INTEGER PRIMARY KEY,
    cluster_id   TEXT NOT NULL,
    vm_id        TEXT NOT NULL,
    old_endpoint TEXT,
    new_endpoint TEXT NOT NULL,
    update_ms    REAL NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('ok', 'failed')),
    at           TEXT NOT NULL
  ) STRICT;
  CREATE INDEX rebinds_member ON rebinds (cluster_id, vm_id);
  `,
  // Announced next endpoint (Member.nextEndpoint). Unique across endpoints and next endpoints
  // together, which one UNIQUE cannot say: checked by checkMemberConflicts before every write.
  `
  ALTER TABLE members ADD COLUMN next_endpoint TEXT;
  `,
  // A rebind answers at update time; its cleanup and downtime are written when they end. Rows from
  // before had both in the answer only: they are done, with nothing recorded.
  `
  ALTER TABLE rebinds ADD COLUMN completion TEXT NOT NULL DEFAULT 'done' CHECK (completion IN ('pending', 'done'));
  ALTER TABLE rebinds ADD COLUMN total_ms REAL;
  ALTER TABLE rebinds ADD COLUMN cleanup TEXT;  -- JSON: the cleanup PhaseReport
  ALTER TABLE rebinds ADD COLUMN downtime TEXT; -- JSON: the DowntimeReport
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
