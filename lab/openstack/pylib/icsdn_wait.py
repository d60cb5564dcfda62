#!/usr/bin/python3
"""Start-up gates for the lab's OpenStack services.

The bin/ shims import a service's slow Python modules first and only then wait here for what it
talks to at start-up, so that all services import in parallel. services.sh uses the same checks
to decide when the clouds are ready. A cast to an RPC queue that has no consumer yet is dropped
silently by RabbitMQ, hence the queue gate.

  icsdn_wait.py [--timeout S] [--user U --password P --vhost V] [--http URL]... [--amqp] [--queue NAME]...
"""
import sys
import time
import urllib.error
import urllib.request

AMQP = dict(host='127.0.0.1:5672', userid='guest', password='guest', virtual_host='/', connect_timeout=2)


def http(url, timeout=120):
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.time() > deadline:
                raise SystemExit('icsdn_wait: no answer from %s' % url)
            time.sleep(0.1)


def _connection():
    import amqp
    conn = amqp.Connection(**AMQP)
    conn.connect()
    return conn


def amqp_up(timeout=120):
    deadline = time.time() + timeout
    while True:
        try:
            _connection().close()
            return
        except Exception:
            if time.time() > deadline:
                raise SystemExit('icsdn_wait: rabbitmq not answering')
            time.sleep(0.2)


def queues(names, timeout=120):
    import amqp
    deadline = time.time() + timeout
    pending = list(names)
    while pending:
        try:
            conn = _connection()
            try:
                for name in list(pending):
                    ch = conn.channel()
                    try:
                        _, _, consumers = ch.queue_declare(name, passive=True)
                        if consumers:
                            pending.remove(name)
                        ch.close()
                    except amqp.exceptions.NotFound:
                        pass  # the server closed the channel
            finally:
                conn.close()
        except OSError:
            pass
        if pending:
            if time.time() > deadline:
                raise SystemExit('icsdn_wait: no consumer on %s' % pending)
            time.sleep(0.2)


def main(argv):
    timeout = 120
    urls, want_amqp, qs = [], False, []
    it = iter(argv)
    for a in it:
        if a == '--timeout':
            timeout = float(next(it))
        elif a == '--user':
            AMQP['userid'] = next(it)
        elif a == '--password':
            AMQP['password'] = next(it)
        elif a == '--vhost':
            AMQP['virtual_host'] = next(it)
        elif a == '--http':
            urls.append(next(it))
        elif a == '--amqp':
            want_amqp = True
        elif a == '--queue':
            qs.append(next(it))
        else:
            raise SystemExit(__doc__)
    for u in urls:
        http(u, timeout)
    if want_amqp:
        amqp_up(timeout)
    if qs:
        queues(qs, timeout)


if __name__ == '__main__':
    main(sys.argv[1:])
