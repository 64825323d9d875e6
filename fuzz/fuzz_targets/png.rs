//! Fuzz target: the bytes as a PNG file, through the PNG analyzer (see `fileproc_fuzz`).

#![no_main]

use fileproc_formats::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fileproc_fuzz::analyze(FileType::Png, data));
