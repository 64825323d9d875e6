#!/usr/bin/env bash
# Static checks of the monitoring files with promtool (installed by ensure-promtool.sh when
# missing): the Prometheus config (and the rule files it names), the alert rules, and the alert
# unit tests in monitoring/prometheus/alerts_test.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-promtool.sh
promtool check config monitoring/prometheus/prometheus.yml
promtool check rules monitoring/prometheus/alerts.yml
promtool test rules monitoring/prometheus/alerts_test.yml
