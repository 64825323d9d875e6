//! # fileproc: the service
//!
//! The parts follow the data flow of `DESIGN.md` section 1 (see `ARCHITECTURE.md`):
//! [`api`] → [`ingest`] → [`blob`] + [`catalog`] → [`queue`] → [`pipeline`] (which calls the
//! `fileproc-formats` crate, after the virus [`scan`] when it is on) → [`catalog`], [`records`],
//! [`cache`]; what happens on the way is
//! published as [`events`] to WebSocket and SSE clients. [`app`] wires them; [`cli`] is the
//! `fileproc` command, and [`healthcheck`] its container probe; [`metrics`] counts what each
//! part does, for Prometheus.

pub mod api;
pub mod app;
pub mod auth;
pub mod blob;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod events;
pub mod healthcheck;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod scan;
pub mod state;
pub mod telemetry;
