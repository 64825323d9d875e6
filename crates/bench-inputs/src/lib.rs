//! The inputs of fileproc's benchmarks, made at bench time from fixed seeds: the same bytes on
//! every machine and every run, so figures from different days compare, and nothing large is
//! committed.
//!
//! Used by the criterion benchmarks of `fileproc-formats` (in memory) and by the end-to-end
//! `benchmark` example of the server (files in a cache directory, see [`ensure`]).
//!
//! | input | module | what |
//! | --- | --- | --- |
//! | `data-1mb.csv` … `data-1gb.csv` | [`csv`] | 10 mixed columns, 1, 10, 100 and 1,000 MB |
//! | `photo-12mp.jpg` | [`images`] | 4000×3000 JPEG, quality 90, EXIF orientation 6 |
//! | `rgba-3000x2000.png` | [`images`] | 3000×2000 RGBA PNG |
//! | `photo-2000x1500.webp` | [`images`] | 2000×1500 lossy WebP, quality 80 |
//! | `text-200p.pdf` | [`pdf`] | 200 pages of text in Helvetica |
//! | `sheet-100k.xlsx` | [`xlsx`] | 100,000 rows × 10 columns |
//! | `doc-2000p.docx` | [`docx`] | 2,000 paragraphs, headings, one table |

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub mod csv;
pub mod docx;
pub mod images;
pub mod pdf;
pub mod xlsx;

/// Bumped whenever a generator's output changes, so [`ensure`] remakes cached files.
pub const GENERATION: u32 = 3;

/// xorshift64* (Vigna 2014): small, seeded, the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced: xorshift never leaves the all-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One of the standard benchmark inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// [`csv`] of 1 MB (10^6 bytes).
    Csv1Mb,
    /// [`csv`] of 10 MB.
    Csv10Mb,
    /// [`csv`] of 100 MB.
    Csv100Mb,
    /// [`csv`] of 1 GB (10^9 bytes).
    Csv1Gb,
    /// [`images::jpeg_12mp`].
    Jpeg,
    /// [`images::png_rgba`].
    Png,
    /// [`images::webp_photo`].
    Webp,
    /// [`pdf::text_pdf`] of 200 pages.
    Pdf,
    /// [`xlsx::workbook`] of 100,000 rows.
    Xlsx,
    /// [`docx::document`] of 2,000 paragraphs.
    Docx,
}

impl Input {
    /// Every standard input.
    pub const ALL: [Input; 10] = [
        Input::Csv1Mb,
        Input::Csv10Mb,
        Input::Csv100Mb,
        Input::Csv1Gb,
        Input::Jpeg,
        Input::Png,
        Input::Webp,
        Input::Pdf,
        Input::Xlsx,
        Input::Docx,
    ];

    /// The file name in the cache directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Input::Csv1Mb => "data-1mb.csv",
            Input::Csv10Mb => "data-10mb.csv",
            Input::Csv100Mb => "data-100mb.csv",
            Input::Csv1Gb => "data-1gb.csv",
            Input::Jpeg => "photo-12mp.jpg",
            Input::Png => "rgba-3000x2000.png",
            Input::Webp => "photo-2000x1500.webp",
            Input::Pdf => "text-200p.pdf",
            Input::Xlsx => "sheet-100k.xlsx",
            Input::Docx => "doc-2000p.docx",
        }
    }

    /// The CSV's target size in bytes, for the CSV inputs.
    pub fn csv_bytes(self) -> Option<u64> {
        match self {
            Input::Csv1Mb => Some(1_000_000),
            Input::Csv10Mb => Some(10_000_000),
            Input::Csv100Mb => Some(100_000_000),
            Input::Csv1Gb => Some(1_000_000_000),
            _ => None,
        }
    }

    /// Writes this input to `out`.
    ///
    /// # Errors
    /// Those of `out`, and of the encoders (reported as `io::Error`).
    pub fn write(self, mut out: impl Write) -> io::Result<()> {
        if let Some(bytes) = self.csv_bytes() {
            return csv::write(out, bytes, csv::SEED).map(|_| ());
        }
        let bytes = match self {
            Input::Jpeg => images::jpeg_12mp()?,
            Input::Png => images::png_rgba()?,
            Input::Webp => images::webp_photo()?,
            Input::Pdf => pdf::text_pdf(200),
            Input::Xlsx => xlsx::workbook(100_000)?,
            Input::Docx => docx::document(2_000)?,
            _ => Vec::new(),
        };
        out.write_all(&bytes)?;
        out.flush()
    }
}

/// The path of `input` in `dir`, written first unless an earlier call of this
/// [`GENERATION`] left it there (a stamp file `<name>.gen` says so). Written to a temporary
/// name and renamed, so an interrupted run leaves no half file behind.
///
/// # Errors
/// Creating `dir`, writing or renaming the file.
pub fn ensure(dir: &Path, input: Input) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(input.file_name());
    let stamp = dir.join(format!("{}.gen", input.file_name()));
    let current = GENERATION.to_string();
    if path.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == current) {
        return Ok(path);
    }
    let partial = dir.join(format!("{}.partial", input.file_name()));
    input.write(BufWriter::new(std::fs::File::create(&partial)?))?;
    std::fs::rename(&partial, &path)?;
    std::fs::write(&stamp, current)?;
    Ok(path)
}

/// `Box<dyn Error>` from an encoder, as an `io::Error`.
fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}
