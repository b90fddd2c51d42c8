"""dbutil.py — databases for the persistence tests.

  with_db_modules(m)  a kamproc.Kamailio class loading the DB modules m
                      (e.g. ["db_sqlite.so"]) before blf.so
  restart(kam)        graceful restart of a started kamproc.Kamailio: SIGTERM,
                      wait for the exit, start again with the same cfg, port
                      and database
  sqlite_rows(path)   the blf_subscriptions rows of an sqlite file, as dicts
  PgServer            a private PostgreSQL server: initdb in a temp dir (as
                      user postgres when we are root: root cannot run it),
                      pg_ctl start on a free 127.0.0.1 port with its unix
                      socket in the temp dir, stopped by pg_ctl (then by PID)

Nothing is installed or configured on the machine; PgServer.available()
says why it cannot run (postgres binaries missing) so tests can skip.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import warnings

import kamproc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))
SQL_DIR = os.path.join(REPO, "modules", "blf", "sql")
TABLE = "blf_subscriptions"


def with_db_modules(modules):
    """A kamproc.Kamailio subclass whose cfg loads modules before blf.so
    (the shared template loads no DB module for blf)."""
    class DbKamailio(kamproc.Kamailio):
        def render(self):
            text = super().render()
            line = 'loadmodule "%s"' % kamproc.BLF_MODULE
            assert line in text, "no blf loadmodule line in the template"
            extra = "".join('loadmodule "%s"\n' % m for m in modules)
            text = text.replace(line, extra + line, 1)
            with open(self.cfg_path, "w") as f:
                f.write(text)
            return text
    return DbKamailio


def stop_gracefully(kam):
    """SIGTERM, wait for the exit (kam.stop kills after 10 s). A crash
    fails; a hang is tolerated with a warning naming where the main process
    waited: stock dialog's destroy can wait forever on a timer lock a child
    held when it _exit()ed on SIGTERM, which happens after blf's
    mod_destroy (blf is loaded after dialog), so the final flush is done by
    then; the callers check the rows. blf's own destroy waits on no lock
    (test_shutdown.py)."""
    proc = kam.proc
    kam.stop(timeout=10.0)
    if proc.returncode == -signal.SIGKILL:
        warnings.warn("kamailio %s hung at shutdown and was killed (see "
                      "dbutil.stop_gracefully); main process:\n%s"
                      % (kam.port, kam.hang_stack))
        return
    assert proc.returncode == 0, \
        "kamailio did not exit cleanly on SIGTERM (rc %s)" % proc.returncode


def restart(kam, timeout=20.0):
    """Stops kam gracefully and starts it again on the same port (the
    stored sockets); returns the seconds the start took until RPC
    answered."""
    stop_gracefully(kam)
    t0 = time.monotonic()
    kam._start_once(timeout)  # same cfg, same port
    return time.monotonic() - t0


def schema_sql(db):
    with open(os.path.join(SQL_DIR, db, "blf-create.sql")) as f:
        return f.read()


def sqlite_rows(path):
    con = sqlite3.connect(path, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM %s" % TABLE)]
    finally:
        con.close()


def sqlite_columns(con, table=TABLE):
    return [(r[1], r[2].upper(), r[3], r[4], r[5]) for r in
            con.execute("PRAGMA table_info(%s)" % table)]


free_tcp_port = kamproc.free_tcp_port


class PgServer:
    USER = "blf"
    PASSWORD = "blfpass"
    DB = "blftest"

    def __init__(self):
        self.bindir = self.find_bindir()
        self.dir = None
        self.port = None
        self.pid = None
        self.as_postgres = os.geteuid() == 0

    @staticmethod
    def find_bindir():
        for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
            if os.path.exists(os.path.join(d, "initdb")):
                return d
        return None

    @classmethod
    def available(cls):
        """None when a server can run here, else why not."""
        if cls.find_bindir() is None:
            return "postgres binaries missing (/usr/lib/postgresql/*/bin/" \
                   "initdb; `make deps` installs postgresql)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and no postgres user to run the " \
                       "server as"
        if shutil.which("psql") is None:
            return "psql missing"
        return None

    def _run(self, argv, **kw):
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        return subprocess.run(argv, capture_output=True, timeout=120,
                              cwd=self.dir, **kw)

    def _check(self, r, what):
        if r.returncode != 0:
            raise RuntimeError("%s failed (rc %d): %s%s" % (
                what, r.returncode, r.stdout.decode(errors="replace"),
                r.stderr.decode(errors="replace")))

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="blf-pg-", dir="/tmp")
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.PASSWORD + "\n")
        if self.as_postgres:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._check(self._run([
            os.path.join(self.bindir, "initdb"), "-D", data, "-U", self.USER,
            "--pwfile", pwfile, "-A", "md5", "-E", "UTF8", "--locale",
            "C", "--no-sync"]), "initdb")
        for _ in range(3):
            self.port = free_tcp_port()
            r = self._pg_ctl_start()
            if r.returncode == 0:
                break
        self._check(r, "pg_ctl start")
        self._read_pid()
        self.psql_admin("CREATE DATABASE %s" % self.DB, db="postgres")
        return self

    def _data(self):
        return os.path.join(self.dir, "data")

    def _pg_ctl_start(self):
        return self._run([
            os.path.join(self.bindir, "pg_ctl"), "-D", self._data(), "-l",
            os.path.join(self.dir, "server.log"), "-w", "-t", "30", "-o",
            "-c listen_addresses=127.0.0.1 -p %d "
            "-c unix_socket_directories=%s -c fsync=off" % (
                self.port, self.dir), "start"])

    def _read_pid(self):
        with open(os.path.join(self._data(), "postmaster.pid")) as f:
            self.pid = int(f.readline().strip())

    def halt(self):
        """Stops the server, keeping its data and port: a DB outage."""
        r = self._run([os.path.join(self.bindir, "pg_ctl"), "-D",
                       self._data(), "-m", "fast", "-w", "-t", "20", "stop"])
        self._check(r, "pg_ctl stop")
        self.pid = None

    def resume(self):
        """Starts the halted server again on the same port."""
        self._check(self._pg_ctl_start(), "pg_ctl start")
        self._read_pid()

    def env(self):
        e = dict(os.environ)
        e["PGPASSWORD"] = self.PASSWORD
        return e

    def psql_admin(self, sql, db=None):
        r = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U",
             self.USER, "-d", db or self.DB, "-v", "ON_ERROR_STOP=1", "-q",
             "-A", "-t", "-F", "\t", "-c", sql],
            capture_output=True, timeout=60, env=self.env())
        self._check(r, "psql %s" % sql[:60])
        return r.stdout.decode()

    def load(self, sql):
        r = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U",
             self.USER, "-d", self.DB, "-v", "ON_ERROR_STOP=1", "-q"],
            input=sql.encode(), capture_output=True, timeout=60,
            env=self.env())
        self._check(r, "psql load")

    def rows(self, cols="callid, version, cseq, expires"):
        out = self.psql_admin("SELECT %s FROM %s" % (cols, TABLE))
        names = [c.strip() for c in cols.split(",")]
        rows = []
        for line in out.splitlines():
            if line.strip():
                rows.append(dict(zip(names, line.split("\t"))))
        return rows

    @property
    def url(self):
        return "postgres://%s:%s@127.0.0.1:%d/%s" % (
            self.USER, self.PASSWORD, self.port, self.DB)

    def stop(self):
        if self.dir is None:
            return
        if self.pid:
            r = self._run([os.path.join(self.bindir, "pg_ctl"), "-D",
                           self._data(),
                           "-m", "fast", "-w", "-t", "20", "stop"])
            if r.returncode != 0:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.pid = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

