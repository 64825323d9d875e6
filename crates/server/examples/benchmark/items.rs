//! The per-format work items: fileproc's analyzer (in this process, on the generated file) side
//! by side with each peer on the same file, the two alternated run by run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail, ensure};
use fileproc_bench_inputs::Input;
use fileproc_formats::{DiscardRecords, FileType, Limits, Section};

use crate::peers::{PythonPeer, run_commands};

/// How one contender does an item's work.
#[derive(Debug, Clone)]
pub enum Work {
    /// fileproc's analyzer for the type, in this process, with these thumbnail sizes (px).
    Analyzer {
        file_type: FileType,
        thumbnails: Vec<u32>,
    },
    /// The floor: a bare `csv::Reader::read_byte_record` pass that only counts records.
    CsvFloor,
    /// A function of `bench/peers/peer.py`, timed inside the Python process.
    Python(&'static str),
    /// Programs run one after the other, timed from spawn to exit; `{in}` is the input file,
    /// `{out}` a scratch directory.
    Commands(Vec<Vec<&'static str>>),
}

/// A peer of an item.
#[derive(Debug, Clone)]
pub struct Peer {
    pub name: &'static str,
    pub work: Work,
}

/// A goal an item's ratio fileproc/peer is read against.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub peer: &'static str,
    /// The largest ratio fileproc/peer (time over time) that meets the goal.
    pub max_ratio: f64,
    /// The goal as the issue words it.
    pub goal: &'static str,
}

/// One row group of BENCHMARKS.md: an input, fileproc's work on it, the peers, the targets.
#[derive(Debug, Clone)]
pub struct Item {
    pub title: &'static str,
    pub input: Input,
    pub fileproc: Work,
    pub peers: Vec<Peer>,
    pub targets: Vec<Target>,
}

fn analyzer(file_type: FileType, thumbnails: &[u32]) -> Work {
    Work::Analyzer {
        file_type,
        thumbnails: thumbnails.to_vec(),
    }
}

fn peer(name: &'static str, work: Work) -> Peer {
    Peer { name, work }
}

const VIPS: &str = "vipsthumbnail";

fn csv_item(title: &'static str, input: Input) -> Item {
    Item {
        title,
        input,
        fileproc: analyzer(FileType::Csv, &[]),
        peers: vec![
            peer("csv crate floor", Work::CsvFloor),
            peer("pandas", Work::Python("csv-pandas")),
        ],
        targets: vec![
            Target {
                peer: "csv crate floor",
                max_ratio: 1.5,
                goal: "CSV analysis ≤ 1.5× the bare csv-crate floor",
            },
            Target {
                peer: "pandas",
                max_ratio: 1.0 / 15.0,
                goal: "CSV analysis ≥ 15× faster than pandas",
            },
        ],
    }
}

fn thumbnail_item(title: &'static str, input: Input, vips_out: &'static str) -> Item {
    Item {
        title,
        input,
        fileproc: analyzer(
            match input {
                Input::Png => FileType::Png,
                Input::Webp => FileType::Webp,
                _ => FileType::Jpeg,
            },
            &[256],
        ),
        peers: vec![
            peer(
                "vipsthumbnail",
                Work::Commands(vec![vec![VIPS, "{in}", "-s", "256", "-o", vips_out]]),
            ),
            peer("Pillow", Work::Python("thumbnail-pillow")),
        ],
        targets: vec![Target {
            peer: "vipsthumbnail",
            max_ratio: 1.0,
            goal: "Thumbnails ≤ 1.0× vipsthumbnail's time per file",
        }],
    }
}

/// Every item, in the order of BENCHMARKS.md.
pub fn all() -> Vec<Item> {
    let pdftotext = vec!["pdftotext", "{in}", "{out}/text.txt"];
    let pdftoppm = vec![
        "pdftoppm",
        "-f",
        "1",
        "-l",
        "1",
        "-scale-to",
        "256",
        "-jpeg",
        "{in}",
        "{out}/page",
    ];
    vec![
        csv_item("CSV analysis, 1 MB", Input::Csv1Mb),
        csv_item("CSV analysis, 10 MB", Input::Csv10Mb),
        csv_item("CSV analysis, 100 MB", Input::Csv100Mb),
        thumbnail_item(
            "JPEG 12 MP (EXIF orientation 6): metadata + 256 px thumbnail",
            Input::Jpeg,
            "{out}/vips.jpg[Q=80]",
        ),
        thumbnail_item(
            "PNG 3000×2000 RGBA: metadata + 256 px thumbnail",
            Input::Png,
            "{out}/vips.png",
        ),
        thumbnail_item(
            "WebP 2000×1500: metadata + 256 px thumbnail",
            Input::Webp,
            "{out}/vips.jpg[Q=80]",
        ),
        Item {
            title: "PDF 200 pages: text and document facts",
            input: Input::Pdf,
            fileproc: analyzer(FileType::Pdf, &[]),
            peers: vec![
                peer("pdftotext", Work::Commands(vec![pdftotext.clone()])),
                peer("pypdf", Work::Python("pdf-pypdf")),
            ],
            targets: vec![Target {
                peer: "pdftotext",
                max_ratio: 1.0,
                goal: "PDF text ≤ 1.0× pdftotext",
            }],
        },
        Item {
            title: "PDF 200 pages: text, facts and a 256 px page-1 thumbnail",
            input: Input::Pdf,
            fileproc: analyzer(FileType::Pdf, &[256]),
            peers: vec![peer(
                "pdftotext + pdftoppm",
                Work::Commands(vec![pdftotext, pdftoppm]),
            )],
            targets: vec![],
        },
        Item {
            title: "XLSX 100,000 rows × 10 columns: every cell, sheet facts",
            input: Input::Xlsx,
            fileproc: analyzer(FileType::Xlsx, &[]),
            peers: vec![
                peer("python-calamine", Work::Python("xlsx-calamine")),
                peer("openpyxl (read-only)", Work::Python("xlsx-openpyxl")),
            ],
            targets: vec![Target {
                peer: "python-calamine",
                max_ratio: 0.7,
                goal: "XLSX ≤ 0.7× python-calamine",
            }],
        },
        Item {
            title: "DOCX 2,000 paragraphs: text, tables, headings, counts",
            input: Input::Docx,
            fileproc: analyzer(FileType::Docx, &[]),
            peers: vec![peer("python-docx", Work::Python("docx-python-docx"))],
            targets: vec![Target {
                peer: "python-docx",
                max_ratio: 0.2,
                goal: "DOCX ≤ 0.2× python-docx",
            }],
        },
    ]
}

/// What one contender measured on an item.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// Seconds per run (each the mean of `repeat` back-to-back repetitions).
    pub seconds: Vec<f64>,
    /// Repetitions per run, chosen from the warm-up so a run lasts ≥ 0.2 s.
    pub repeat: usize,
    /// What the contender reported having done (records, pages...), for the reader to compare.
    pub facts: String,
}

/// An item measured: fileproc first, then its peers, each with per-run ratios to fileproc.
#[derive(Debug, Clone)]
pub struct Measured {
    pub item: Item,
    pub input_bytes: u64,
    pub fileproc: Series,
    /// Each peer's series and the ratios fileproc/peer of the same runs.
    pub peers: Vec<(Series, Vec<f64>)>,
}

/// Where the contenders run.
pub struct Runner<'a> {
    pub python: Option<&'a mut PythonPeer>,
    /// A scratch directory for the programs' outputs.
    pub scratch: PathBuf,
}

impl Runner<'_> {
    /// Runs `work` on `path` once: its seconds and what it reports having done.
    pub fn once(&mut self, work: &Work, path: &Path) -> Result<(f64, String)> {
        match work {
            Work::Analyzer {
                file_type,
                thumbnails,
            } => {
                let started = Instant::now();
                let facts = analyze(*file_type, thumbnails, path)?;
                Ok((started.elapsed().as_secs_f64(), facts))
            }
            Work::CsvFloor => {
                let started = Instant::now();
                let records = csv_floor(path)?;
                Ok((
                    started.elapsed().as_secs_f64(),
                    format!("{records} records (header included)"),
                ))
            }
            Work::Python(item) => {
                let python = self
                    .python
                    .as_deref_mut()
                    .context("the Python peers are not running")?;
                let (seconds, facts) = python.run(item, path)?;
                Ok((seconds, facts.to_string()))
            }
            Work::Commands(commands) => {
                let seconds = run_commands(commands, path, &self.scratch)?;
                Ok((seconds, String::new()))
            }
        }
    }

    /// `repeat` back-to-back runs of `work`: the mean seconds and the facts.
    fn repeated(&mut self, work: &Work, path: &Path, repeat: usize) -> Result<(f64, String)> {
        let mut total = 0.0;
        let mut facts = String::new();
        for _ in 0..repeat {
            let (seconds, f) = self.once(work, path)?;
            total += seconds;
            facts = f;
        }
        Ok((total / repeat as f64, facts))
    }

    /// Measures `item` on `path`: a warm-up of every contender (which also sets its repetitions),
    /// then `runs` rounds of fileproc and each peer, fileproc first in even rounds and last in
    /// odd ones, so drift in the machine's load falls on both sides of each ratio.
    pub fn measure(&mut self, item: &Item, path: &Path, runs: usize) -> Result<Measured> {
        ensure!(runs > 0, "runs must be at least 1");
        let mut contenders: Vec<(String, &Work)> = vec![("fileproc".into(), &item.fileproc)];
        contenders.extend(item.peers.iter().map(|p| (p.name.to_owned(), &p.work)));
        let mut series = Vec::new();
        for (name, work) in &contenders {
            let (seconds, facts) = self
                .once(work, path)
                .with_context(|| format!("{}: {name}", item.title))?;
            let repeat = ((0.2 / seconds.max(1e-6)).ceil() as usize).clamp(1, 50);
            series.push(Series {
                name: name.clone(),
                seconds: Vec::with_capacity(runs),
                repeat,
                facts,
            });
        }
        for round in 0..runs {
            let mut order: Vec<usize> = (0..contenders.len()).collect();
            if round % 2 == 1 {
                order.rotate_left(1);
            }
            for i in order {
                let (name, work) = &contenders[i];
                let (seconds, _) = self
                    .repeated(work, path, series[i].repeat)
                    .with_context(|| format!("{}: {name}", item.title))?;
                series[i].seconds.push(seconds);
            }
        }
        let fileproc = series.remove(0);
        let peers = series
            .into_iter()
            .map(|s| {
                let ratios = fileproc
                    .seconds
                    .iter()
                    .zip(&s.seconds)
                    .map(|(f, p)| f / p)
                    .collect();
                (s, ratios)
            })
            .collect();
        Ok(Measured {
            item: item.clone(),
            input_bytes: std::fs::metadata(path)?.len(),
            fileproc,
            peers,
        })
    }
}

/// fileproc's analysis of `path` as a worker runs it (records to a sink that drops them: the
/// server streams them to storage), returning the facts it found.
pub fn analyze(file_type: FileType, thumbnails: &[u32], path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata()?.len();
    let limits = Limits {
        thumbnail_sizes: thumbnails.to_vec(),
        enable_webp: false,
        ..Limits::default()
    };
    let analysis = fileproc_formats::analyze_whole(
        file_type,
        &mut file,
        Some(size),
        limits,
        &mut DiscardRecords,
    )?;
    let thumbs: Vec<String> = analysis
        .thumbnails
        .iter()
        .map(|t| format!("{}×{}", t.image.width, t.image.height))
        .collect();
    let mut facts = match &analysis.section {
        Section::Csv(s) => format!("{} records, {} columns", s.row_count, s.column_count),
        Section::Pdf(s) => format!("{} pages, {} words", s.page_count, s.word_count),
        Section::Docx(s) => format!(
            "{} paragraphs, {} tables, {} words",
            s.paragraph_count, s.table_count, s.word_count
        ),
        Section::Xlsx(s) => format!("{} sheets, {} cells", s.sheet_count, s.cell_count),
        Section::Jpeg(s) | Section::Png(s) | Section::Webp(s) => {
            format!("{}×{}", s.width, s.height)
        }
    };
    if !thumbs.is_empty() {
        facts.push_str(&format!(", thumbnail {}", thumbs.join(", ")));
    }
    if thumbnails.len() != analysis.thumbnails.len() {
        bail!("{} thumbnails asked, {facts} made", thumbnails.len());
    }
    Ok(facts)
}

/// The floor: records of `path` counted by a bare `csv::Reader::read_byte_record` pass.
pub fn csv_floor(path: &Path) -> Result<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(File::open(path)?);
    let mut record = csv::ByteRecord::new();
    let mut records = 0u64;
    while reader.read_byte_record(&mut record)? {
        records += 1;
    }
    Ok(records)
}
