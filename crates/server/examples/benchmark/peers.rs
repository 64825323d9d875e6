//! The peers: the Python service's functions (`bench/peers/peer.py`, one long-lived process) and
//! the native programs (vipsthumbnail, pdftotext, pdftoppm), with their versions.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

/// `bench/peers/peer.py` running under the peers' virtualenv: one request per line on stdin,
/// one JSON answer per line on stdout.
pub struct PythonPeer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PythonPeer {
    /// Starts `python script` and waits for its `{"ready": true}` (the imports done).
    pub fn start(python: &Path, script: &Path) -> Result<PythonPeer> {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut peer = PythonPeer {
            child,
            stdin,
            stdout,
        };
        let ready = peer.answer()?;
        if ready["ready"] != true {
            bail!("peer.py did not start: {ready}");
        }
        Ok(peer)
    }

    fn answer(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("peer.py exited (see its error above)");
        }
        serde_json::from_str(&line).with_context(|| format!("peer.py said {line:?}"))
    }

    /// Runs `item` on `path`: the seconds peer.py measured around the work, and its facts.
    pub fn run(&mut self, item: &str, path: &Path) -> Result<(f64, serde_json::Value)> {
        writeln!(self.stdin, "{item} {}", path.display())?;
        self.stdin.flush()?;
        let answer = self.answer()?;
        if let Some(error) = answer["error"].as_str() {
            bail!("peer.py: {error}");
        }
        let seconds = answer["seconds"]
            .as_f64()
            .with_context(|| format!("no seconds in {answer}"))?;
        Ok((seconds, answer["facts"].clone()))
    }

    /// The peers' package versions, `pandas 3.1.1, ...`.
    pub fn versions(python: &Path) -> String {
        let code = "import importlib.metadata as m, platform\n\
                    names = ['pandas', 'numpy', 'openpyxl', 'python-calamine', 'pypdf', 'python-docx', 'pillow']\n\
                    print(', '.join(['Python ' + platform.python_version()] + [n + ' ' + m.version(n) for n in names]))";
        Command::new(python)
            .args(["-c", code])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown versions".into())
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs each command in turn (`{in}` → `input`, `{out}` → `scratch`), from spawn to exit: the
/// total seconds. A program that fails fails the benchmark, with its stderr.
pub fn run_commands(commands: &[Vec<&str>], input: &Path, scratch: &Path) -> Result<f64> {
    let input = input.display().to_string();
    let scratch_text = scratch.display().to_string();
    let mut total = 0.0;
    for command in commands {
        let args: Vec<String> = command
            .iter()
            .map(|a| a.replace("{in}", &input).replace("{out}", &scratch_text))
            .collect();
        let (program, rest) = args.split_first().context("an empty command")?;
        let started = Instant::now();
        let output = Command::new(program)
            .args(rest)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("running {program} (make benchmark installs it)"))?;
        total += started.elapsed().as_secs_f64();
        if !output.status.success() {
            bail!(
                "{} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    Ok(total)
}

/// The first line a program prints about its version (on stdout or stderr).
pub fn program_version(program: &str, flag: &str) -> String {
    Command::new(program)
        .arg(flag)
        .output()
        .ok()
        .and_then(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines().next().map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| format!("{program}: not found"))
}
