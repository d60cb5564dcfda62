import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const PYLIB = join(import.meta.dirname, "../../lab/openstack/pylib");
const PY = "/usr/bin/python3";

/**
 * Two oslo.db engines on one WAL SQLite file, as two of the lab's service processes: a transaction
 * reads, the other engine commits a write, then the first one writes (what Nova's instance.save()
 * does: SELECT, then UPDATE). Prints what the write raised, and what a function wrapped in oslo.db's
 * retry-on-deadlock (as Nova's instance updates are) ends with.
 */
const SCRIPT = `
import json, sqlite3, sys
if sys.argv[2] == 'lab':
    sys.path.insert(0, sys.argv[3])
    import icsdn_sqlite  # noqa: F401
import sqlalchemy as sa
from oslo_db import api as db_api
from oslo_db.sqlalchemy import engines
path = sys.argv[1] + '/t.db'
c = sqlite3.connect(path); c.execute('PRAGMA journal_mode=WAL'); c.close()
a, b = engines.create_engine('sqlite:///' + path), engines.create_engine('sqlite:///' + path)
with a.begin() as c:
    c.execute(sa.text('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)'))
    c.execute(sa.text('INSERT INTO t VALUES (1, 0)'))
attempts = 0
def update(conflict):
    global attempts
    attempts += 1
    with a.begin() as c:
        v = c.execute(sa.text('SELECT v FROM t WHERE id = 1')).scalar()
        if conflict and attempts == 1:
            with b.begin() as other:
                other.execute(sa.text('UPDATE t SET v = v + 1 WHERE id = 1'))
        c.execute(sa.text('UPDATE t SET v = :v WHERE id = 1'), {'v': v + 10})
def outcome(fn):
    try:
        fn()
        return 'ok'
    except Exception as e:
        return type(e).__name__
raised = outcome(lambda: update(True))
attempts = 0
retried = outcome(db_api.wrap_db_retry(max_retries=3, retry_interval=0.01, retry_on_deadlock=True)(lambda: update(True)))
with a.begin() as c:
    v = c.execute(sa.text('SELECT v FROM t WHERE id = 1')).scalar()
print(json.dumps({'raised': raised, 'retried': retried, 'attempts': attempts, 'value': v}))
`;

const hasOsloDb = spawnSync(PY, ["-c", "import oslo_db"]).status === 0;
if (!hasOsloDb && process.env.CI === "true") throw new Error("python3-oslo.db is missing (scripts/setup.sh)");

describe.skipIf(!hasOsloDb)(
  "the lab's services on SQLite: a lock conflict is a deadlock (pylib/icsdn_sqlite.py)",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "icsdn-sqlite-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const run = (mode: "stock" | "lab", sub: string) => {
      const d = join(dir, sub);
      mkdirSync(d);
      const r = spawnSync(PY, ["-c", SCRIPT, d, mode, PYLIB], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout) as { raised: string; retried: string; attempts: number; value: number };
    };

    it("stock oslo.db: SQLite's 'database is locked' is a plain error, so a retry-on-deadlock write fails (Nova answered 500)", () => {
      expect(run("stock", "stock")).toEqual({
        raised: "OperationalError",
        retried: "OperationalError",
        attempts: 1,
        value: 2,
      });
    });

    it("with the lab's filter: it is a DBDeadlock, and the service's own retry writes from a fresh read", () => {
      // The other engine wrote twice (v = 2); the retried update read that and wrote 12: no lost update.
      expect(run("lab", "lab")).toEqual({ raised: "DBDeadlock", retried: "ok", attempts: 2, value: 12 });
    });
  },
);
