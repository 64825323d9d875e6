//! Analyzes one file with the analyzer its type names and prints the result section as JSON, the
//! thumbnails made and the time taken, for measuring a format outside the server:
//! `cargo run --release -p fileproc-formats --example analyze -- TYPE FILE [thumbnails-dir]`
//! (TYPE is csv, pdf, docx, xlsx, jpeg, png or webp; run it under `/usr/bin/time -v` for the
//! peak RSS). Records are counted, not kept.

use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use fileproc_formats::{Access, Context, FileType, Input, Limits, RecordSink};

/// Counts records.
#[derive(Default)]
struct Count(u64);

impl RecordSink for Count {
    fn record(&mut self, _fields: &[Option<&str>]) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }

    fn typed_record(
        &mut self,
        _record: &serde_json::Map<String, serde_json::Value>,
    ) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(path)) = (args.first(), args.get(1)) else {
        return Err("usage: analyze TYPE FILE [thumbnails-dir]".into());
    };
    let file_type =
        FileType::parse(kind).ok_or("TYPE is one of csv pdf docx xlsx jpeg png webp")?;
    let analyzer = fileproc_formats::analyzer_for(file_type).ok_or("no analyzer for TYPE")?;
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let cancel = AtomicBool::new(false);
    let mut records = Count::default();
    let mut progress = |_| {};
    let mut ctx = Context {
        limits: Limits::default(),
        size: Some(size),
        progress: &mut progress,
        records: &mut records,
        cancel: &cancel,
    };
    let started = Instant::now();
    let analysis = match analyzer.access() {
        Access::Sequential => analyzer.analyze(Input::Stream(&mut file), &mut ctx)?,
        Access::Random => analyzer.analyze(Input::Seekable(&mut file), &mut ctx)?,
    };
    let elapsed = started.elapsed();
    println!("{}", serde_json::to_string_pretty(&analysis)?);
    for thumb in &analysis.thumbnails {
        let image = &thumb.image;
        println!(
            "thumbnail {}: {}x{} {} ({} bytes)",
            thumb.size,
            image.width,
            image.height,
            image.format.as_str(),
            image.bytes.len()
        );
        if let Some(dir) = args.get(2) {
            let out = format!("{dir}/thumbnail-{}.{}", thumb.size, image.format.as_str());
            std::fs::write(&out, &image.bytes)?;
        }
    }
    eprintln!(
        "{kind} {path}: {size} bytes, {} records, {:.3} s",
        records.0,
        elapsed.as_secs_f64()
    );
    Ok(())
}
