#!/usr/bin/python3
"""Database initialisation in one process each (every nova-manage call costs ~3 s of imports).

  icsdn_dbinit.py nova NOVA_CONF NOVA_DB_CONF CELL0_URL
      = nova-manage api_db sync; cell_v2 map_cell0; cell_v2 create_cell --name cell1; db sync
  icsdn_dbinit.py nova-discover NOVA_CONF NOVA_DB_CONF
      = nova-manage cell_v2 discover_hosts
  icsdn_dbinit.py neutron SQLITE_URL
      = the schema from the models (neutron's migrations ALTER constraints, which SQLite cannot
        do), then alembic stamped to the heads
"""
import os
import sys


def nova(conf, dbconf, cell0_url=None, discover=False):
    from nova.cmd import manage  # eventlet monkey patching happens here
    from nova import config, objects
    config.parse_args(['nova-manage', '--config-file', conf, '--config-file', dbconf])
    objects.register_all()
    cells = manage.CellV2Commands()
    if discover:
        rc = cells.discover_hosts(verbose=True)
    else:
        rc = (manage.ApiDbCommands().sync() or cells.map_cell0(database_connection=cell0_url)
              or cells.create_cell(name='cell1') or manage.DbCommands().sync())
    sys.exit(rc or 0)


def neutron(url):
    import sqlalchemy
    from neutron.db.migration import alembic_migrations
    from neutron.db.migration.models import head
    engine = sqlalchemy.create_engine(url)
    head.get_metadata().create_all(engine)
    vdir = os.path.join(os.path.dirname(alembic_migrations.__file__), 'versions')
    heads = [open(os.path.join(vdir, f)).read().strip() for f in ('EXPAND_HEAD', 'CONTRACT_HEAD')]
    with engine.begin() as c:
        c.exec_driver_sql('CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)')
        c.exec_driver_sql('DELETE FROM alembic_version')
        for h in heads:
            c.exec_driver_sql('INSERT INTO alembic_version VALUES (?)', (h,))
    print('neutron schema: %d tables, alembic heads %s' % (len(head.get_metadata().tables), ' '.join(heads)))


if __name__ == '__main__':
    what, args = sys.argv[1], sys.argv[2:]
    if what == 'nova':
        nova(*args)
    elif what == 'nova-discover':
        nova(*args, discover=True)
    elif what == 'neutron':
        neutron(*args)
    else:
        sys.exit(__doc__)
