//! The API suite: the real server on a random port, over real HTTP.

mod helpers;

mod auth;
mod chunked;
mod compression;
mod csv_corpus;
mod durability;
mod encryption;
mod files;
mod formats;
mod metrics;
mod openapi;
mod page;
mod progress;
mod scan;
mod telemetry;
mod tus;
mod tus_client;
mod upload;
