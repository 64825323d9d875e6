//! The deployment files, checked statically (no Docker engine or cluster here): the Dockerfile,
//! the Compose files, the Kubernetes manifests and the monitoring files parse; every probe is a
//! real route of a real server at the configured port; every variable they give fileproc is one
//! its config reads, and the values land; the Dockerfile builds with the Makefile's command.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod files;

mod environment;
mod images;
mod manifests;
mod monitoring;
mod probes;
