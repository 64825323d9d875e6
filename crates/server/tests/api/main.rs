//! The API suite: the real server on a random port, over real HTTP.

mod helpers;

mod csv_corpus;
mod durability;
mod files;
mod formats;
mod upload;
