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
  // v2: a release retried after the commit counts its attempts; cluster migrations link member migrations.
  `
  ALTER TABLE migrations ADD COLUMN release_attempt INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE migrations ADD COLUMN cluster_migration_id TEXT;
  CREATE TABLE cluster_migrations (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    mode TEXT NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    commit_started_at REAL,
    commit_ended_at REAL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  -- One cluster migration in flight per cluster.
  CREATE UNIQUE INDEX cluster_migrations_one_in_flight ON cluster_migrations(cluster) WHERE status IN ('running', 'rolling_back');
  CREATE TABLE cluster_members (
    cluster_migration_id TEXT NOT NULL REFERENCES cluster_migrations(id),
    idx INTEGER NOT NULL,
    member TEXT NOT NULL,
    migration_id TEXT REFERENCES migrations(id),
    state TEXT NOT NULL,
    cutover_started_at REAL,
    cutover_ended_at REAL,
    PRIMARY KEY (cluster_migration_id, member)
  );
  CREATE TABLE cluster_events (
    cluster_migration_id TEXT NOT NULL REFERENCES cluster_migrations(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (cluster_migration_id, seq)
  );
  `,
  // v3: target resources a cluster migration creates once for its members (shared key pairs and groups).
  `
  CREATE TABLE cluster_resources (
    cluster_migration_id TEXT NOT NULL REFERENCES cluster_migrations(id),
    seq INTEGER NOT NULL,
    cloud TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    resource_id TEXT,
    state TEXT NOT NULL,
    PRIMARY KEY (cluster_migration_id, seq)
  );
  `,
];
