//! The `fileproc` command: `serve` (the default), `migrate`, `process FILE`, and `healthcheck`
//! (the container's probe).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fileproc_formats::{Context, DiscardRecords, Input, Limits};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::config::Settings;

/// fileproc: upload, store, process and serve files.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service and its workers (the default).
    Serve,
    /// Apply the catalog's migrations and exit; with `--down`, revert the latest one instead.
    Migrate {
        /// Revert the latest applied migration (run it again to go further back).
        #[arg(long)]
        down: bool,
    },
    /// Print the SHA-256 of an API key, as `security.auth.api_keys` holds it (`owner:<this>`).
    HashKey {
        /// The key clients will send in `X-API-Key`.
        key: String,
    },
    /// Process one local file and print the result JSON, with no server.
    Process {
        /// The file to process.
        file: PathBuf,
        /// How many typed records the result carries.
        #[arg(long, default_value_t = 100)]
        records: usize,
        /// Write the thumbnails (and a WebP conversion, when enabled) into this directory.
        #[arg(long, value_name = "DIR")]
        thumbnails: Option<PathBuf>,
    },
    /// GET this instance's /health (loopback, the configured `server.port`); exit 0 on 200 OK,
    /// 1 otherwise (no answer, another status, or settings that do not load). The container's
    /// HEALTHCHECK: the runtime image needs no curl.
    Healthcheck {
        /// Probe this URL instead of the one the settings give.
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer, connection included.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
}

/// `fileproc healthcheck`: 0 when the probe passes, 1 when it fails or the settings (needed for
/// the port unless `--url` is given) do not load: Docker's HEALTHCHECK reserves every other exit
/// code. Logs nothing: the orchestrator keeps the one line printed.
fn healthcheck(url: Option<String>, timeout: u64) -> ExitCode {
    let url = match url {
        Some(url) => url,
        None => match Settings::load() {
            Ok(settings) => crate::healthcheck::health_url(&settings.server),
            Err(e) => {
                eprintln!("unhealthy: the settings do not load: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let probe = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| {
            Ok(rt.block_on(crate::healthcheck::probe(
                &url,
                std::time::Duration::from_secs(timeout),
            ))?)
        });
    match probe {
        Ok(()) => {
            println!("healthy: GET {url} answered 200");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unhealthy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Revert the catalog's latest migration.
async fn migrate_down(settings: &Settings) -> anyhow::Result<()> {
    let catalog = crate::app::connect_catalog(settings).await?;
    match catalog.migrate_down().await? {
        Some(version) => tracing::info!(migration.version = version, "migration reverted"),
        None => tracing::info!("no migration is applied; nothing to revert"),
    }
    Ok(())
}

/// Parse the arguments and run; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // Needs no settings.
    if let Command::HashKey { key } = &command {
        println!("{}", crate::auth::hash_key(key));
        return ExitCode::SUCCESS;
    }
    if let Command::Healthcheck { url, timeout } = command {
        return healthcheck(url, timeout);
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = crate::telemetry::init(&settings.monitoring);
    let outcome = match command {
        Command::Process {
            file,
            records,
            thumbnails,
        } => {
            let limits = Limits {
                preview_records: records,
                ..settings.processing.limits()
            };
            process_file(&file, limits, thumbnails.as_deref())
        }
        command => runtime().and_then(|rt| {
            rt.block_on(async {
                match command {
                    Command::Migrate { down: false } => crate::app::open_catalog(&settings)
                        .await
                        .map(|_| tracing::info!("migrations applied")),
                    Command::Migrate { down: true } => migrate_down(&settings).await,
                    _ => {
                        crate::app::Application::start(settings)
                            .await?
                            .run_until_signal()
                            .await
                    }
                }
            })
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `fileproc process FILE`: the same analysis and result JSON as the service, on stdout.
fn process_file(path: &Path, limits: Limits, thumbnails: Option<&Path>) -> anyhow::Result<()> {
    let started = Instant::now();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let (size, sha256, head) = digest(path)?;
    let file_type =
        crate::ingest::sniff::detect(&head, name, crate::ingest::sniff::ExtensionPolicy::ANY)
            .with_context(|| format!("{}", path.display()))?;
    let analyzer = fileproc_formats::analyzer_for(file_type)
        .with_context(|| format!("{} files cannot be processed yet", file_type.as_str()))?;
    let mut file = std::fs::File::open(path)?;
    let cancel = AtomicBool::new(false);
    let mut ctx = Context {
        limits,
        size: Some(size),
        progress: &mut |_| {},
        records: &mut DiscardRecords,
        cancel: &cancel,
    };
    let analysis = analyzer
        .analyze(Input::Seekable(&mut file), &mut ctx)
        .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
    let elapsed = started.elapsed().as_millis() as u64;
    let result =
        crate::pipeline::result_json(None, file_type, analyzer, &analysis, elapsed, size, &sha256);
    println!("{}", serde_json::to_string_pretty(&result)?);
    if let Some(dir) = thumbnails {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let images = analysis.thumbnails.iter().map(|t| {
            let name = format!("thumbnail-{}.{}", t.size, t.image.format.as_str());
            (name, &t.image)
        });
        let converted = analysis
            .converted
            .iter()
            .map(|c| (format!("converted.{}", c.format.as_str()), c));
        let optimized = analysis
            .optimized
            .iter()
            .map(|o| (format!("optimized.{}", o.image.format.as_str()), &o.image));
        for (name, image) in images.chain(converted).chain(optimized) {
            let out = dir.join(name);
            std::fs::write(&out, &image.bytes)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {} ({}x{})", out.display(), image.width, image.height);
        }
    }
    Ok(())
}

/// Size, hex SHA-256 and the first bytes of a file, in one pass.
fn digest(path: &Path) -> anyhow::Result<(u64, String, Vec<u8>)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head.len() < crate::ingest::sniff::SNIFF_LEN {
            let take = n.min(crate::ingest::sniff::SNIFF_LEN - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize()), head))
}
