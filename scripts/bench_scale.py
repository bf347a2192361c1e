#!/usr/bin/env python3
"""Scale-out benchmarks against real `veza serve` processes (release build), each figure beside a
baseline measured in the same run. Driven by scripts/bench-scale.sh; prints tables, asserts nothing.

  rest      GET /api/v2/rooms/{id}/messages (50-message pages, the room live on the node: served
            from the ring), GET /api/v2/users/me (the session cache) and the /health floor, with
            wrk (64 connections, 2 threads), on SQLite and on PostgreSQL.

Usage: bench_scale.py WORKDIR rest
Environment: VEZA_TEST_PG_URL (PostgreSQL for the postgres runs), SECS (wrk duration, default 10).
"""
import atexit, base64, json, os, re, secrets, socket, struct, subprocess, sys, time, urllib.request

WORK = sys.argv[1]
CHILDREN = []
SECS = int(os.environ.get("SECS", "10"))
PG = os.environ.get("VEZA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


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


def start_veza(label, db_url, extra=None):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEZA_")}
    env.update({
        "VEZA_BIND": f"127.0.0.1:{port}", "VEZA_INGEST_BIND": f"127.0.0.1:{free_port()}",
        "VEZA_DATABASE_URL": db_url, "VEZA_DATA_DIR": os.path.join(WORK, f"data-{label}"),
        "VEZA_JWT_SECRET": "bench-secret-bench-secret-bench-secret-0",
        "VEZA_AUTH_RATE_PER_MINUTE": "0", "VEZA_IP_RATE_PER_MINUTE": "0",
        "VEZA_USER_RATE_PER_MINUTE": "0", "VEZA_WRITE_RATE_PER_MINUTE": "0",
        "VEZA_WS_SEND_RATE": "1000", "VEZA_WS_SEND_BURST": "1000",
        "VEZA_LOG_LEVEL": "warning", "VEZA_LOG_FORMAT": "json",
    })
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


if __name__ == "__main__":
    {"rest": rest}[sys.argv[2]]()
