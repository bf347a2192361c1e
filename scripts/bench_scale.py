#!/usr/bin/env python3
"""Scale-out benchmarks against real `veza serve` processes (release build), each figure beside a
baseline measured in the same run. Driven by scripts/bench-scale.sh; prints tables, asserts nothing.

  rest      GET /api/v2/rooms/{id}/messages (50-message pages, the room live on the node: served
            from the ring), GET /api/v2/users/me (the session cache) and the /health floor, with
            wrk (64 connections, 2 threads), on SQLite and on PostgreSQL.
  idle      CONNS (100,000) authenticated idle WebSockets over NODES (6) nodes on PostgreSQL +
            Redis, one veza-load per node (the file limit is 20,000 per process); RSS per
            connection per node and in all, beside the raw server (veza-baseline) holding one
            node's share.
  fanout    FANOUT_CONNS (10,000) clients in FANOUT_ROOMS (100) rooms, RATES sends/s (200 and
            1,000): the raw server, Veza on one node, Veza on 3 nodes (PostgreSQL + Redis, clients
            spread over the nodes, so most deliveries cross Redis); deliveries/s, lost, latency,
            server CPU per 1,000 deliveries (the 3-node figure includes Redis's CPU).

Usage: bench_scale.py WORKDIR rest|idle|fanout
Environment: VEZA_TEST_PG_URL (PostgreSQL), VEZA_TEST_REDIS_URL (Redis), SECS (wrk duration and
fan-out window, default 10), and the sizes above.
"""
import atexit, base64, json, os, re, secrets, socket, struct, subprocess, sys, time, urllib.request

WORK = sys.argv[1]
CHILDREN = []
SECS = int(os.environ.get("SECS", "10"))
PG = os.environ.get("VEZA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("VEZA_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@atexit.register
def _reap():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


class Ws:
    """The smallest WebSocket client that talks to Veza: masked text frames out, text frames in."""

    def __init__(self, port, token):
        self.sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
             f"Authorization: Bearer {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.buf = b""

    def send(self, obj):
        payload = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("socket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 1:
                return json.loads(payload)
            if b0 & 0x0F == 9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask
                                  + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def until(self, kind):
        while True:
            frame = self.recv()
            if frame.get("type") == kind:
                return frame


def start_veza(label, db_url, extra=None, cluster=None):
    """A `veza serve`; `cluster=(prefix, node_id)` makes it a node on Redis."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEZA_")}
    env.update({
        "VEZA_BIND": f"127.0.0.1:{port}", "VEZA_INGEST_BIND": f"127.0.0.1:{free_port()}",
        "VEZA_DATABASE_URL": db_url, "VEZA_DATA_DIR": os.path.join(WORK, f"data-{label}"),
        "VEZA_JWT_SECRET": "bench-secret-bench-secret-bench-secret-0",
        "VEZA_AUTH_RATE_PER_MINUTE": "0", "VEZA_IP_RATE_PER_MINUTE": "0",
        "VEZA_USER_RATE_PER_MINUTE": "0", "VEZA_WRITE_RATE_PER_MINUTE": "0",
        "VEZA_WS_SEND_RATE": "1000", "VEZA_WS_SEND_BURST": "1000",
        # A few users hold thousands of sockets each here; media is read as fast as it comes.
        "VEZA_MAX_WEBSOCKETS_PER_USER": "10000000", "VEZA_MEDIA_RATE_PER_MINUTE": "0",
        "VEZA_HTTP_MAX_PER_IP": "10000000",
        "VEZA_LOG_LEVEL": "warning", "VEZA_LOG_FORMAT": "json",
    })
    if cluster:
        prefix, node_id = cluster
        env.update({"VEZA_REDIS_URL": REDIS, "VEZA_REDIS_PREFIX": prefix,
                    "VEZA_NODE_ID": str(node_id), "VEZA_PUBLIC_URL": f"http://127.0.0.1:{port}"})
    env.update(extra or {})
    log = open(os.path.join(WORK, f"veza-{label}.log"), "w")
    p = subprocess.Popen(["target/release/veza", "serve"], env=env, stdout=log, stderr=log)
    CHILDREN.append(p)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return p, port
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"veza ({label}) did not start; see {log.name}")


def fresh_pg(name):
    subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True,
                   capture_output=True)
    subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    atexit.register(lambda: subprocess.run(
        ["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True))
    base = PG.rsplit("/", 1)[0]
    return f"{base}/{name}"


def wrk(port, path, token=None):
    args = ["wrk", "-t2", "-c64", f"-d{SECS}s", "--latency"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def rest():
    rows = []
    for label, url in [("sqlite", f"sqlite://{WORK}/rest.db"), ("postgres", fresh_pg(f"veza_bench_rest_{os.getpid()}"))]:
        proc, port = start_veza(f"rest-{label}", url)
        user = call(port, "POST", "/api/v2/auth/register",
                    body={"username": "bencher", "password": "correct horse battery"})
        token = user["access_token"]
        room = call(port, "POST", "/api/v2/rooms", token, {"name": "bench"})["id"]
        ws = Ws(port, token)
        ws.send({"type": "join", "room": room})
        ws.until("joined")
        for i in range(120):
            ws.send({"type": "send", "room": room, "body": f"message {i} of the history benchmark",
                     "client_id": f"c{i}"})
            ws.until("ack")
        for name, path, tok in [
            ("/health (floor)", "/health", None),
            ("/api/v2/users/me", "/api/v2/users/me", token),
            ("history page of 50", f"/api/v2/rooms/{room}/messages?limit=50", token),
            ("history page of 50, before=60", f"/api/v2/rooms/{room}/messages?limit=50&before=60", token),
        ]:
            rps, p99, bad = wrk(port, path, tok)
            rows.append((label, name, rps, p99, bad))
        proc.terminate()
        proc.wait()
    print(f"REST with wrk: 64 connections, 2 threads, {SECS} s each, same machine (2 cores shared with wrk)")
    print(f"{'store':<10}{'request':<34}{'req/s':>10}{'p99 ms':>9}{'non-2xx':>9}{'of floor':>10}")
    floors = {r[0]: r[2] for r in rows if r[1].startswith("/health")}
    for label, name, rps, p99, bad in rows:
        print(f"{label:<10}{name:<34}{rps:>10.0f}{p99:>9.2f}{bad:>9}{rps / floors[label]:>10.2f}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def redis_pid():
    out = subprocess.run(["redis-cli", "-u", REDIS, "info", "server"], capture_output=True,
                         text=True, check=True).stdout
    return int(re.search(r"process_id:(\d+)", out).group(1))


def start_baseline():
    port = free_port()
    log = open(os.path.join(WORK, "baseline.log"), "w")
    p = subprocess.Popen(["target/release/veza-baseline", f"127.0.0.1:{port}"], stdout=log,
                         stderr=log)
    CHILDREN.append(p)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("veza-baseline did not start")


def load(args, label):
    """veza-load with `args`; its RESULT line as a dict."""
    out = subprocess.run(["target/release/veza-load", "--label", label] + args,
                         capture_output=True, text=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"veza-load ({label}) failed: {out.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def cluster(label, nodes, extra=None):
    """`nodes` veza processes on a fresh PostgreSQL database and a fresh Redis prefix; the first
    runs the migrations before the others start."""
    db = fresh_pg(f"veza_bench_{label}_{os.getpid()}")
    prefix = f"bench{label}{os.getpid()}"
    started = [start_veza(f"{label}-0", db, extra, (prefix, 1))]
    started += [start_veza(f"{label}-{i}", db, extra, (prefix, i + 1)) for i in range(1, nodes)]
    return started


def stop(procs):
    for p, _ in procs:
        p.terminate()
    for p, _ in procs:
        p.wait()


def idle():
    nodes = int(os.environ.get("NODES", "6"))
    total = int(os.environ.get("CONNS", "100000"))
    hold = int(os.environ.get("HOLD", "20"))
    per = total // nodes
    rooms, users = 20, 10
    base, port = start_baseline()
    raw = load(["--baseline", "--addr", f"127.0.0.1:{port}", "--connections", str(per), "--rooms",
                str(rooms), "--idle", "5", "--server-pid", str(base.pid)], "baseline")
    base.terminate()
    base.wait()
    # Small pools: six nodes share PostgreSQL's 100 connections.
    procs = cluster("idle", nodes, {"VEZA_DB_POOL_SIZE": "6"})
    time.sleep(1)
    before = {p.pid: rss_kib(p.pid) for p, _ in procs}
    gens = []
    for i, (p, port) in enumerate(procs):
        err = open(os.path.join(WORK, f"load-idle-{i}.err"), "w+")
        g = subprocess.Popen(["target/release/veza-load", "--label", f"node{i + 1}", "--addr",
                              f"127.0.0.1:{port}", "--connections", str(per), "--rooms",
                              str(rooms), "--users", str(users), "--idle", str(hold),
                              "--server-pid", str(p.pid)],
                             stdout=subprocess.PIPE, stderr=err, text=True)
        CHILDREN.append(g)
        gens.append((g, err))
    # The moment every generator holds its connections: all of them open at once.
    began = time.time()
    while True:
        done = [open(e.name).read() for _, e in gens]
        if all(" connected, " in d for d in done):
            break
        if any(g.poll() is not None for g, _ in gens):
            raise SystemExit("a load generator ended early: " + " | ".join(d[-500:] for d in done))
        time.sleep(0.5)
    connect_s = time.time() - began
    time.sleep(3)
    together = {p.pid: rss_kib(p.pid) for p, _ in procs}
    open_now = sum(len(os.listdir(f"/proc/{p.pid}/fd")) for p, _ in procs)
    results = []
    for g, _ in gens:
        out, _ = g.communicate()
        line = next(l for l in out.splitlines() if l.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT "):]))
    stop(procs)
    connected = sum(r["connections"] for r in results)
    failed = sum(r["failed"] for r in results)
    growth = sum(together[p] - before[p] for p in together)
    print(f"{total:,} idle authenticated WebSockets over {nodes} nodes (PostgreSQL + Redis), "
          f"{rooms} rooms per node, held {hold} s; all open within {connect_s:.0f} s")
    print(f"{'server':<10}{'conns':>8}{'failed':>8}{'RSS before KiB':>16}{'RSS idle KiB':>14}"
          f"{'KiB/conn':>10}{'x raw':>8}")
    raw_k = raw["rss_per_conn_kib"]
    print(f"{'raw':<10}{raw['connections']:>8}{raw['failed']:>8}"
          f"{raw['server_rss_kib']['before']:>16}{raw['server_rss_kib']['idle_connected']:>14}"
          f"{raw_k:>10.2f}{1:>8.2f}")
    for r in results:
        k = r["rss_per_conn_kib"]
        print(f"{r['label']:<10}{r['connections']:>8}{r['failed']:>8}"
              f"{r['server_rss_kib']['before']:>16}{r['server_rss_kib']['idle_connected']:>14}"
              f"{k:>10.2f}{k / raw_k:>8.2f}")
    per_conn = growth / connected if connected else 0
    print(f"{'all nodes':<10}{connected:>8}{failed:>8}{sum(before.values()):>16}"
          f"{sum(together.values()):>14}{per_conn:>10.2f}{per_conn / raw_k:>8.2f}"
          f"   (read while all were open; {open_now:,} descriptors open on the nodes)")


def fanout():
    conns = int(os.environ.get("FANOUT_CONNS", "10000"))
    rooms = int(os.environ.get("FANOUT_ROOMS", "100"))
    rates = [int(r) for r in os.environ.get("RATES", "200 1000").split()]
    secs = str(SECS)
    common = ["--connections", str(conns), "--rooms", str(rooms), "--seconds", secs]
    rows = []
    for rate in rates:
        shape = common + ["--rate", str(rate)]
        base, port = start_baseline()
        rows.append(load(shape + ["--baseline", "--addr", f"127.0.0.1:{port}", "--server-pid",
                                  str(base.pid)], "raw"))
        base.terminate()
        base.wait()
        # One node, no Redis: the single-node figure the Redis hop is compared with.
        p, port = start_veza(f"single-{rate}", fresh_pg(f"veza_bench_single{rate}_{os.getpid()}"))
        rows.append(load(shape + ["--addr", f"127.0.0.1:{port}", "--server-pid", str(p.pid)],
                         "veza 1 node"))
        p.terminate()
        p.wait()
        three = cluster(f"f3r{rate}", 3)
        args = shape + sum((["--addr", f"127.0.0.1:{port}", "--server-pid", str(p.pid)]
                            for p, port in three), [])
        rows.append(load(args + ["--server-pid", str(redis_pid())], "veza 3 nodes"))
        stop(three)
    print(f"Chat fan-out: {conns:,} clients in {rooms} rooms, {secs} s window after 2 s warm-up; "
          "3 nodes: clients spread over the nodes, CPU includes Redis")
    print(f"{'server':<14}{'sends/s':>8}{'deliv/s':>9}{'lost':>7}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'max ms':>8}{'ack p99':>8}{'cores':>7}{'ms/1k deliv':>12}{'x raw':>7}")
    raw = {}
    for r in rows:
        lost = int(r["expected_deliveries"] - r["deliveries"])
        per_k = r.get("server_cpu_ms_per_1k_deliveries") or float("nan")
        if r["label"] == "raw":
            raw[r["rate"]] = per_k
        d, a = r["delivery_ms"], r["ack_ms"]
        ack = a["p99"] if a["p99"] == a["p99"] else float("nan")
        print(f"{r['label']:<14}{r['rate']:>8}{r['deliveries_per_s']:>9.0f}{lost:>7}"
              f"{d['p50']:>8.2f}{d['p99']:>8.2f}{d['max']:>8.1f}{ack:>8.2f}"
              f"{r['server_cpu_cores'] or 0:>7.2f}{per_k:>12.3f}{per_k / raw[r['rate']]:>7.2f}")


if __name__ == "__main__":
    {"rest": rest, "idle": idle, "fanout": fanout}[sys.argv[2]]()
