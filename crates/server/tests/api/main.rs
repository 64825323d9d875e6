//! The API suite: the real server on a random port, over real HTTP.

mod helpers;

mod auth;
mod chunked;
mod csv_corpus;
mod durability;
mod encryption;
mod files;
mod formats;
mod openapi;
mod progress;
mod scan;
mod tus;
mod tus_client;
mod upload;
