"""SQLite's lock conflicts reported as the deadlocks they are, so the services' own retries run.

The lab's services share SQLite files between processes (nova-api, -conductor, -scheduler;
neutron-server and its RPC worker) and between green threads with their own connections. oslo.db
opens every transaction with a deferred BEGIN, so a write after a read in one transaction must
upgrade its WAL snapshot; when another connection committed in between, SQLite answers
"database is locked" (SQLITE_BUSY_SNAPSHOT) at once, without waiting: only a new transaction
can succeed. MySQL reports the same conflict as a deadlock or lock wait timeout (1213, 1205),
which oslo.db raises as DBDeadlock, and the services retry those (Nova's instance updates,
Neutron's API, Glance's image updates: oslo_db.api.wrap_db_retry(retry_on_deadlock=True)).
Unfiltered, the write just failed: in nova-api a 500 (createImage, DELETE /servers); in the steps
of nova-compute's delete (its action event, instance.save, destroy, all retried on a deadlock) a
delete Nova had already accepted was dropped (task state reverted: the server ACTIVE again, or
ERROR) or left `deleting`, when Nova ignores every new DELETE: a member's release waited minutes.
Imported by every OpenStack service shim (services.sh); Keystone and Placement (uwsgi, one process
each) are not.
"""
from oslo_db import exception
from oslo_db.sqlalchemy import exc_filters
from sqlalchemy import exc as sqla_exc


@exc_filters.filters('sqlite', sqla_exc.OperationalError, r'.*database is locked')
def _locked_is_deadlock(error, match, engine_name, is_disconnect):
    raise exception.DBDeadlock(error)


def _retry_instance_mapping_saves():
    """nova-conductor maps each new instance to its cell in a write of its own that Nova does not
    retry; four builds at once met a lock conflict there and the build was lost (the server stayed
    BUILD until the mediation's deadline). The write sets the same columns again: safe to retry."""
    import sys
    if 'nova' not in sys.modules:
        return
    from nova.objects import instance_mapping
    from oslo_db import api as oslo_db_api
    mapping = instance_mapping.InstanceMapping
    retry = oslo_db_api.wrap_db_retry(max_retries=10, retry_on_deadlock=True, retry_interval=0.05,
                                      inc_retry_interval=True, max_retry_interval=1)
    mapping._save_in_db = staticmethod(retry(mapping._save_in_db))


_retry_instance_mapping_saves()
