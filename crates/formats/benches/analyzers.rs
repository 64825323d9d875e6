//! Criterion benchmarks of every analyzer on the seeded benchmark inputs
//! (`fileproc-bench-inputs`), made in memory before the first measurement:
//! `cargo bench -p fileproc-formats --bench analyzers` (`make benchmark` runs it and copies the
//! medians into BENCHMARKS.md). Throughput is in input bytes per second.
//!
//! Each benchmark is what a worker runs on one file (records to a sink that drops them); the
//! images and the PDF make one 256 px thumbnail, as the peers in BENCHMARKS.md do.

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fileproc_bench_inputs::{csv, docx, images, pdf, xlsx};
use fileproc_formats::{Analysis, DiscardRecords, FileType, Limits};

/// One analysis of `bytes` as `file_type`, thumbnails at `thumbnails` px.
fn analyze(file_type: FileType, bytes: &[u8], thumbnails: &[u32]) -> Analysis {
    let limits = Limits {
        thumbnail_sizes: thumbnails.to_vec(),
        enable_webp: false,
        ..Limits::default()
    };
    let size = Some(bytes.len() as u64);
    fileproc_formats::analyze_whole(
        file_type,
        &mut Cursor::new(bytes),
        size,
        limits,
        &mut DiscardRecords,
    )
    .expect("the analysis")
}

fn bench_csv(c: &mut Criterion) {
    let mut group = c.benchmark_group("csv");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, size) in [("analysis-1mb", 1_000_000), ("analysis-10mb", 10_000_000)] {
        let mut bytes = Vec::new();
        csv::write(&mut bytes, size, csv::SEED).expect("a CSV");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| analyze(FileType::Csv, black_box(&bytes), &[]))
        });
    }
    group.finish();
}

fn bench_images(c: &mut Criterion) {
    let mut group = c.benchmark_group("image-thumbnail-256");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let inputs = [
        ("jpeg-12mp", FileType::Jpeg, images::jpeg_12mp()),
        ("png-3000x2000-rgba", FileType::Png, images::png_rgba()),
        ("webp-2000x1500", FileType::Webp, images::webp_photo()),
    ];
    for (name, file_type, bytes) in inputs {
        let bytes = bytes.expect("an image");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| analyze(file_type, black_box(&bytes), &[256]))
        });
    }
    group.finish();
}

fn bench_documents(c: &mut Criterion) {
    let mut group = c.benchmark_group("documents");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let pdf = pdf::text_pdf(200);
    group.throughput(Throughput::Bytes(pdf.len() as u64));
    group.bench_function("pdf-200-pages-text", |b| {
        b.iter(|| analyze(FileType::Pdf, black_box(&pdf), &[]))
    });
    group.bench_function("pdf-200-pages-text-thumbnail", |b| {
        b.iter(|| analyze(FileType::Pdf, black_box(&pdf), &[256]))
    });
    let sheet = xlsx::workbook(100_000).expect("a workbook");
    group.throughput(Throughput::Bytes(sheet.len() as u64));
    group.bench_function("xlsx-100k-rows", |b| {
        b.iter(|| analyze(FileType::Xlsx, black_box(&sheet), &[]))
    });
    let document = docx::document(2_000).expect("a document");
    group.throughput(Throughput::Bytes(document.len() as u64));
    group.bench_function("docx-2000-paragraphs", |b| {
        b.iter(|| analyze(FileType::Docx, black_box(&document), &[]))
    });
    group.finish();
}

criterion_group!(benches, bench_csv, bench_images, bench_documents);
criterion_main!(benches);
