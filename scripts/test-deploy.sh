#!/usr/bin/env bash
# Checks the deployment files offline (no cluster, no Docker daemon): the Dockerfile against
# scripts/deps.sh, the Prometheus rules and their unit tests (promtool), the metric names against
# deploy/prometheus/METRICS.md, the runbooks, the Grafana dashboard, the Kubernetes manifests
# (kubernetes-validate) and deploy/compose.yaml (`docker compose config` when the plugin is there).
# Installs what is missing: promtool through scripts/deps.sh, the PyPI tools into a venv under
# ${XDG_CACHE_HOME:-~/.cache}/veza-tools. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${XDG_CACHE_HOME:-$HOME/.cache}/veza-tools"
venv="$tools/venv"
# First run on a clean machine: promtool (Debian prometheus) and python3-venv come from deps.sh.
if ! command -v promtool >/dev/null 2>&1 || [ ! -x "$venv/bin/python" ]; then
  bash scripts/deps.sh test
fi
# Pinned, so a new schema or parser release cannot turn the suite red overnight.
pypi=("kubernetes-validate==1.37.0" "PyYAML==6.0.4")
if ! "$venv/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  echo "deploy: installing ${pypi[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pypi[@]}"
fi
py="$venv/bin/python"
check() { "$py" scripts/check-deploy.py "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "-- Dockerfile vs scripts/deps.sh"
check dockerfile

echo "-- Prometheus rules (promtool)"
promtool check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && promtool test rules alerts_test.yml)
promtool check config deploy/prometheus/prometheus.yml

echo "-- runbooks"
check runbooks

echo "-- Grafana dashboard and metric names"
"$py" -c 'import json, sys; json.load(open(sys.argv[1]))' deploy/grafana/dashboards/veza.json
check metrics
check dashboard-rules "$work/dashboard-rules.yml"
promtool check rules "$work/dashboard-rules.yml" >/dev/null
echo "ok: every dashboard query parses as PromQL"

echo "-- Kubernetes manifests"
"$venv/bin/kubernetes-validate" --strict --quiet deploy/k8s/*.yaml
echo "ok: kubernetes-validate --strict"
check k8s
if kubectl config current-context >/dev/null 2>&1; then
  kubectl apply --dry-run=client --validate=false -f deploy/k8s/ >/dev/null
  echo "ok: kubectl apply --dry-run=client"
else
  echo "skipped: kubectl apply --dry-run=client (no cluster context configured)"
fi

echo "-- compose"
check compose
if docker compose version >/dev/null 2>&1; then
  # Throwaway values: config only interpolates them; nothing starts.
  VEZA_JWT_SECRET=x POSTGRES_PASSWORD=x GRAFANA_ADMIN_PASSWORD=x \
    docker compose -f deploy/compose.yaml config --quiet
  echo "ok: docker compose config"
else
  echo "skipped: docker compose config (the docker compose plugin is not installed)"
fi

if command -v shellcheck >/dev/null 2>&1; then
  shellcheck scripts/test-deploy.sh scripts/deps.sh
fi
echo "deploy: all checks passed"
