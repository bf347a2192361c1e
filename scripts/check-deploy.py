#!/usr/bin/env python3
"""Consistency checks of the deployment files, run by scripts/test-deploy.sh (needs PyYAML).

  check-deploy.py dockerfile        Dockerfile's build stage installs exactly `scripts/deps.sh build`,
                                    and its runtime stage the run-time half of every -dev package
  check-deploy.py metrics           every metric the alerts and the dashboard use is in METRICS.md
  check-deploy.py dashboard-rules F writes the dashboard's queries as a rule file F (for promtool)
  check-deploy.py runbooks          every alert has a runbook page, a unit test, an index entry
  check-deploy.py k8s               what the manifests must hold beyond their schema
  check-deploy.py compose           what deploy/compose.yaml must hold (without docker compose)

Each prints one line per problem and exits 1 if there is any.
"""
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# The run-time package of each -dev package scripts/deps.sh builds with: the runtime stage of the
# Dockerfile must install it. None: part of every Debian base image. A -dev package added to
# deps.sh without an entry here fails the check, so the image cannot silently miss a library.
RUNTIME_OF = {
    "libc6-dev": None,
    "libpq-dev": "libpq5",
    "libsqlite3-dev": "libsqlite3-0",
    "libopus-dev": "libopus0",
}

problems = []


def problem(msg):
    problems.append(msg)
    print(f"FAIL: {msg}")


# ---------------------------------------------------------------- Dockerfile vs scripts/deps.sh

def deps_lists(path):
    """(build list, test additions) from the `want=(...)` and `want+=(...)` lines of deps.sh."""
    build, test = None, []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"want(\+?)=\((.*)\)$", line)
        if not m:
            continue
        pkgs = m.group(2).split()
        if m.group(1):
            test += pkgs
        elif build is None:
            build = pkgs
    if build is None:
        problem(f"{path.relative_to(ROOT)}: no want=(...) line found")
        build = []
    return build, test


def dockerfile_stages(path):
    """[(name, base image, [(instruction, args)])] with comments dropped and continuations joined."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        instr, _, args = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append((m.group(2) or str(len(stages)), m.group(1), []))
        elif stages:
            stages[-1][2].append((instr, args.strip()))
    return stages


def apt_installs(run):
    """Packages named by `apt-get install` / `apt install` commands in one RUN line."""
    pkgs = []
    for cmd in re.split(r"&&|\|\||;|\|", run):
        words = cmd.split()
        for i, w in enumerate(words):
            if w in ("apt-get", "apt") and "install" in words[i + 1:]:
                rest = words[words.index("install", i) + 1:]
                pkgs += [p for p in rest if not p.startswith("-") and not p.startswith("$")]
                break
    return pkgs


def check_dockerfile():
    deps = ROOT / "scripts" / "deps.sh"
    build_list, _ = deps_lists(deps)
    stages = dockerfile_stages(ROOT / "Dockerfile")
    if len(stages) < 2:
        problem("Dockerfile: expected a build stage and a runtime stage")
        return
    copied_from = {re.search(r"--from=(\S+)", a).group(1)
                   for st in stages for i, a in st[2] if i == "COPY" and "--from=" in a}
    build = next((s for s in stages if s[0] in copied_from), stages[0])
    runtime = stages[-1]

    # The build stage: explicit apt-get installs plus `deps.sh build` if it runs it.
    deps_paths = {"scripts/deps.sh"}
    for instr, args in build[2]:
        words = [w for w in args.split() if not w.startswith("--")]
        if instr in ("COPY", "ADD") and len(words) >= 2 and "scripts/deps.sh" in words[:-1]:
            deps_paths.add(words[-1].rstrip("/") + ("/deps.sh" if words[-1].endswith("/") else ""))
    explicit, via_deps = [], False
    for instr, args in build[2]:
        if instr != "RUN":
            continue
        explicit += apt_installs(args)
        for p in deps_paths:
            if re.search(re.escape(p) + r"\s+build\b", args):
                via_deps = True
    have = set(explicit) | (set(build_list) if via_deps else set())
    missing = [p for p in build_list if p not in have]
    extra = [p for p in explicit if p not in build_list]
    if missing:
        problem(f"Dockerfile build stage '{build[0]}' lacks packages scripts/deps.sh build installs: "
                f"{' '.join(missing)} (run `scripts/deps.sh build` in the stage, or list them)")
    if extra:
        problem(f"Dockerfile build stage '{build[0]}' installs packages scripts/deps.sh build does not "
                f"name: {' '.join(extra)} (add them to deps.sh, or drop them)")
    if not any(i == "RUN" and re.search(r"\bstrip\b", a) for i, a in build[2]):
        problem("Dockerfile build stage does not strip the binary")

    # The runtime stage: the run-time half of every -dev package.
    runtime_pkgs = {p for i, a in runtime[2] if i == "RUN" for p in apt_installs(a)}
    for pkg in build_list:
        if not pkg.endswith("-dev"):
            continue
        if pkg not in RUNTIME_OF:
            problem(f"scripts/deps.sh builds with {pkg} but scripts/check-deploy.py has no run-time "
                    f"package for it: add '{pkg}': '<lib package>' to RUNTIME_OF, and that package "
                    f"to the Dockerfile's runtime stage")
            continue
        need = RUNTIME_OF[pkg]
        if need is not None and need not in runtime_pkgs:
            problem(f"Dockerfile runtime stage does not install {need} (the run-time half of {pkg})")
    dev_in_runtime = sorted(p for p in runtime_pkgs if p.endswith("-dev"))
    if dev_in_runtime:
        problem(f"Dockerfile runtime stage installs -dev packages: {' '.join(dev_in_runtime)}")

    # One Debian release for both stages, a non-root user, a health check.
    releases = {}
    for name, image, _ in (build, runtime):
        m = re.search(r"(bookworm|bullseye|trixie|buster|sid)", image)
        releases[name] = m.group(1) if m else None
    if None in releases.values() or len(set(releases.values())) != 1:
        problem(f"Dockerfile stages must name one Debian release: {releases}")
    users = [a for i, a in runtime[2] if i == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problem("Dockerfile runtime stage must end with a non-root USER")
    if not any(i == "HEALTHCHECK" and "/health" in a for i, a in runtime[2]):
        problem("Dockerfile runtime stage has no HEALTHCHECK on /health")
    if not problems:
        print(f"ok: build stage '{build[0]}' = deps.sh build ({len(build_list)} packages); runtime "
              f"stage has {', '.join(sorted(filter(None, (RUNTIME_OF[p] for p in build_list if p.endswith('-dev')))))}; "
              f"both {releases[build[0]]}")


# ---------------------------------------------------------------- metric names

def metrics_contract():
    """{name: type} from the tables of deploy/prometheus/METRICS.md."""
    out = {}
    for line in (ROOT / "deploy/prometheus/METRICS.md").read_text().splitlines():
        m = re.match(r"\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(\w+)\s*\|", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2"}


def promql_metrics(expr):
    """Metric names a PromQL expression selects (Grafana variables allowed)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"'(?:\\.|[^'\\])*'", "''", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\w+", " ", e)
    e = re.sub(r"(?<![A-Za-z0-9_:])\d[\d.]*(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0) in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def dashboard_queries():
    """[(panel title, expr)] of every query in the dashboard, templating included."""
    dash = json.loads((ROOT / "deploy/grafana/dashboards/veza.json").read_text())
    out = []

    def walk(node, title):
        if isinstance(node, dict):
            title = node.get("title", title)
            if isinstance(node.get("expr"), str):
                out.append((title, node["expr"]))
            for v in node.values():
                walk(v, title)
        elif isinstance(node, list):
            for v in node:
                walk(v, title)

    walk(dash.get("panels", []), "?")
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", q or "")
        if m:
            out.append((f"variable {var.get('name')}", m.group(1)))
    return dash, out


def alert_rules():
    doc = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def check_metrics():
    contract = metrics_contract()
    if not contract:
        problem("deploy/prometheus/METRICS.md lists no metric")
        return

    def known(name):
        if name in contract:
            return True
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return base != name and contract.get(base) == "histogram"

    _, queries = dashboard_queries()
    if len(queries) < 10:
        problem(f"the dashboard has only {len(queries)} queries")
    uses = [(f"dashboard panel '{t}'", e) for t, e in queries]
    uses += [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()]
    used = set()
    for where, expr in uses:
        for name in sorted(promql_metrics(expr)):
            used.add(name)
            if not known(name):
                problem(f"{where} uses {name}, which deploy/prometheus/METRICS.md does not list")
    if not problems:
        print(f"ok: {len(uses)} queries use {len(used)} metric names, all in METRICS.md")


def write_dashboard_rules(path):
    """The dashboard's queries as recording rules, so promtool parses them."""
    _, queries = dashboard_queries()
    rules = []
    for i, (_, expr) in enumerate(queries):
        e = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        e = e.replace("$__range", "1h").replace("$instance", ".*")
        rules.append({"record": f"dashboard:query_{i}", "expr": e})
    Path(path).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))


# ---------------------------------------------------------------- runbooks

def check_runbooks():
    rb_dir = ROOT / "docs/runbooks"
    index = (rb_dir / "README.md").read_text() if (rb_dir / "README.md").exists() else ""
    if not index:
        problem("docs/runbooks/README.md is missing")
    tests = yaml.safe_load((ROOT / "deploy/prometheus/alerts_test.yml").read_text())
    firing, quiet = set(), set()
    for t in tests.get("tests", []):
        for a in t.get("alert_rule_test", []):
            (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    linked = set()
    for r in alert_rules():
        name, url = r["alert"], r.get("annotations", {}).get("runbook_url", "")
        m = re.search(r"docs/runbooks/([\w.-]+\.md)$", url)
        if not m:
            problem(f"alert {name}: runbook_url '{url}' does not name a page in docs/runbooks/")
            continue
        page = m.group(1)
        linked.add(page)
        if not (rb_dir / page).is_file():
            problem(f"alert {name}: runbook docs/runbooks/{page} does not exist")
        elif name not in (rb_dir / page).read_text():
            problem(f"docs/runbooks/{page} does not mention the alert {name}")
        if f"({page})" not in index:
            problem(f"docs/runbooks/README.md does not link {page}")
        for label in ("severity",):
            if label not in r.get("labels", {}):
                problem(f"alert {name} has no {label} label")
        if name not in firing:
            problem(f"alerts_test.yml has no case where {name} fires")
        if name not in quiet:
            problem(f"alerts_test.yml has no case where {name} stays quiet")
    for page in sorted(p.name for p in rb_dir.glob("*.md") if p.name != "README.md"):
        if page not in linked:
            problem(f"docs/runbooks/{page} belongs to no alert")
    if not problems:
        print(f"ok: {len(linked)} alerts, each with a runbook, an index entry and firing/quiet tests")


# ---------------------------------------------------------------- Kubernetes

def check_k8s():
    docs = []
    for f in sorted((ROOT / "deploy/k8s").glob("*.yaml")):
        docs += [(f.name, d) for d in yaml.safe_load_all(f.read_text()) if d]
    by_kind = {}
    for f, d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
        if d["kind"] == "Secret":
            problem(f"{f}: commits a Secret; reference one created with kubectl instead")
    for kind in ("Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"):
        if kind not in by_kind:
            problem(f"deploy/k8s has no {kind}")
    workloads = by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
    if len(workloads) != 1:
        problem(f"deploy/k8s should hold one Veza workload, found {len(workloads)}")
        return
    w = workloads[0]
    pod = w["spec"]["template"]["spec"]
    labels = w["spec"]["template"]["metadata"]["labels"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        problem("the pod's securityContext must set runAsNonRoot: true")
    (c,) = [c for c in pod["containers"] if c["name"] == "veza"]
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in c:
            problem(f"the veza container has no {probe}")
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/health":
        problem("the readiness probe must GET /health")
    if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
        problem("the veza container must set allowPrivilegeEscalation: false")
    env = {e["name"]: e for e in c.get("env", [])}
    for name in ("VEZA_JWT_SECRET", "VEZA_DATABASE_URL"):
        if "secretKeyRef" not in env.get(name, {}).get("valueFrom", {}):
            problem(f"{name} must come from a secretKeyRef")
    for name, e in env.items():
        if re.search(r"SECRET|PASSWORD|TOTP_KEY", name) and "value" in e:
            problem(f"{name} has a literal value in the manifest")
    cm_keys = {k for cm in by_kind.get("ConfigMap", []) for k in cm.get("data", {})}
    config_doc = (ROOT / "docs/configuration.md").read_text()
    for k in sorted(cm_keys):
        if k.startswith("VEZA_") and f"`{k}`" not in config_doc:
            problem(f"ConfigMap key {k} is not a key of docs/configuration.md")
    for k in ("VEZA_REDIS_URL",):
        if k not in cm_keys and k not in env:
            problem(f"several replicas need {k}")
    script = " ".join(c.get("command", []) + c.get("args", []))
    if "VEZA_NODE_ID" not in script and "VEZA_NODE_ID" not in env:
        problem("each pod needs its own VEZA_NODE_ID")
    if "VEZA_PUBLIC_URL" not in script and "VEZA_PUBLIC_URL" not in env:
        problem("each pod needs its own VEZA_PUBLIC_URL")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        s = hpa["spec"]
        if (s.get("minReplicas"), s.get("maxReplicas")) != (2, 20):
            problem(f"HPA replicas must be 2-20, found {s.get('minReplicas')}-{s.get('maxReplicas')}")
        ref = s["scaleTargetRef"]
        if (ref["kind"], ref["name"]) != (w["kind"], w["metadata"]["name"]):
            problem(f"HPA targets {ref['kind']}/{ref['name']}, not the workload")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"].get("matchLabels", {})
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            problem("the PodDisruptionBudget does not select the Veza pods")
    for svc in by_kind.get("Service", []):
        sel = svc["spec"].get("selector", {})
        if any(labels.get(k) != v for k, v in sel.items()):
            problem(f"Service {svc['metadata']['name']} does not select the Veza pods")
    for ing in by_kind.get("Ingress", []):
        ann = ing["metadata"].get("annotations", {})
        for a in ("proxy-read-timeout", "proxy-send-timeout"):
            v = ann.get(f"nginx.ingress.kubernetes.io/{a}")
            if v is None or int(v) < 3600:
                problem(f"Ingress {ing['metadata']['name']}: {a} must be at least 3600 s for WebSockets")
    if not problems:
        print(f"ok: {w['kind']} {w['metadata']['name']} with {len(docs)} objects; probes, secrets by "
              f"reference, HPA 2-20, PDB and Ingress timeouts in place")


# ---------------------------------------------------------------- compose

def check_compose():
    path = ROOT / "deploy/compose.yaml"
    doc = yaml.safe_load(path.read_text())
    services = doc.get("services", {})
    for name in ("veza", "postgres", "redis", "prometheus", "grafana"):
        if name not in services:
            problem(f"compose.yaml has no {name} service")
        elif "healthcheck" not in services[name]:
            problem(f"compose.yaml: {name} has no healthcheck")
    env = services.get("veza", {}).get("environment", {})
    secret = str(env.get("VEZA_JWT_SECRET", ""))
    if not re.fullmatch(r"\$\{VEZA_JWT_SECRET:\?[^}]*\}", secret):
        problem("compose.yaml: VEZA_JWT_SECRET must be ${VEZA_JWT_SECRET:?...} (from the environment or .env)")
    for sname, s in services.items():
        for k, v in (s.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD", k) and not str(v).startswith("${"):
                problem(f"compose.yaml: {sname}.{k} is a literal; take it from the environment")
        for vol in s.get("volumes", []):
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith("."):
                if not (path.parent / src).exists():
                    problem(f"compose.yaml: {sname} mounts {src}, which does not exist")
            elif src and src not in (doc.get("volumes") or {}):
                problem(f"compose.yaml: {sname} uses volume {src}, not declared under volumes")
    if not problems:
        print(f"ok: compose.yaml has {', '.join(services)} with healthchecks; secrets from the environment")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "dockerfile":
        check_dockerfile()
    elif what == "metrics":
        check_metrics()
    elif what == "dashboard-rules":
        write_dashboard_rules(sys.argv[2])
    elif what == "runbooks":
        check_runbooks()
    elif what == "k8s":
        check_k8s()
    elif what == "compose":
        check_compose()
    else:
        sys.exit(__doc__)
    sys.exit(1 if problems else 0)
