/** Schema migrations of the journal, applied in order; PRAGMA user_version counts them. */
export const JOURNAL_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE migrations (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    member TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    step TEXT NOT NULL,
    committed INTEGER NOT NULL DEFAULT 0,
    cluster_id TEXT,
    error_code TEXT,
    error_message TEXT,
    bytes_total INTEGER,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    upload_attempt INTEGER NOT NULL DEFAULT 0,
    download_resumes INTEGER NOT NULL DEFAULT 0,
    transfer_started_at INTEGER,
    image_hash_algo TEXT,
    image_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  -- One migration in flight per member: a second POST gets 409.
  CREATE UNIQUE INDEX migrations_one_in_flight ON migrations(member) WHERE status IN ('running', 'rolling_back');
  CREATE TABLE resources (
    migration_id TEXT NOT NULL REFERENCES migrations(id),
    seq INTEGER NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    resource_id TEXT,
    state TEXT NOT NULL,
    owned INTEGER NOT NULL,
    PRIMARY KEY (migration_id, seq)
  );
  CREATE TABLE timings (
    migration_id TEXT NOT NULL REFERENCES migrations(id),
    phase TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    PRIMARY KEY (migration_id, phase)
  );
  CREATE TABLE events (
    migration_id TEXT NOT NULL REFERENCES migrations(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (migration_id, seq)
  );
  CREATE TABLE manifest_chunks (
    migration_id TEXT NOT NULL REFERENCES migrations(id),
    idx INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (migration_id, idx)
  );
  `,
];
