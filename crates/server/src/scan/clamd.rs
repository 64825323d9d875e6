//! A small client of clamd, the ClamAV daemon, over TCP: the commands `PING`, `VERSION` and
//! `INSTREAM`, as clamd(8) describes them (section "COMMANDS").
//!
//! Every command is sent `z`-prefixed and NUL-terminated (`zINSTREAM\0`), so replies end in NUL
//! too; clamd closes the connection after one command (no `IDSESSION`). `INSTREAM` sends the
//! data in chunks, each a 4-byte unsigned length in network byte order followed by that many
//! bytes, and ends with a zero-length chunk. The reply is `stream: OK`, `stream: <signature>
//! FOUND`, or `<message> ERROR`; a stream longer than clamd's `StreamMaxLength` is cut off with
//! `INSTREAM size limit exceeded. ERROR` and the connection closed, which may come while the
//! client is still sending, so the reply is read while the data goes out.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

/// Longest reply read from clamd; a real one is a line.
const MAX_REPLY: usize = 4096;

/// Largest chunk sent in one INSTREAM frame (clamd takes any size up to `StreamMaxLength`).
const MAX_CHUNK: usize = 1024 * 1024;

/// The prefix of the signatures clamd reports when one of its own limits (`MaxFileSize`,
/// `MaxScanSize`, `MaxRecursion`...) stopped it scanning part of the data (with
/// `AlertExceedsMax yes`): not a threat, a part left unscanned.
const LIMITS_EXCEEDED: &str = "Heuristics.Limits.Exceeded";

/// Why talking to clamd failed.
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    /// clamd could not be reached.
    #[error("cannot connect to clamd at {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The connection failed midway.
    #[error("the connection to clamd failed: {0}")]
    Io(#[from] std::io::Error),
    /// clamd answered something this client does not understand, or an error of its own.
    #[error("clamd answered {0:?}")]
    Reply(String),
    /// Reading the data to scan failed (the blob store, not clamd).
    #[error("reading the data to scan failed: {0}")]
    Source(String),
}

/// What clamd made of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `stream: OK`.
    Clean,
    /// `stream: <signature> FOUND`: the signatures' names.
    Infected(Vec<String>),
    /// Not scanned whole: the reason (over `StreamMaxLength`, or a scan limit reached).
    NotScanned(String),
}

/// A clamd at `host:port`.
#[derive(Debug, Clone)]
pub struct Clamd {
    addr: String,
}

impl Clamd {
    pub fn new(host: &str, port: u16) -> Self {
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Clamd { addr }
    }

    async fn connect(&self) -> Result<TcpStream, ClamdError> {
        let stream =
            TcpStream::connect(&self.addr)
                .await
                .map_err(|source| ClamdError::Connect {
                    addr: self.addr.clone(),
                    source,
                })?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// `PING`: `Ok` when clamd answers `PONG`.
    ///
    /// # Errors
    /// clamd is unreachable or answered something else.
    pub async fn ping(&self) -> Result<(), ClamdError> {
        match self.command("zPING\0").await?.as_str() {
            "PONG" => Ok(()),
            other => Err(ClamdError::Reply(other.to_owned())),
        }
    }

    /// `VERSION`: the engine's version and, when clamd has official databases, theirs
    /// (`ClamAV 1.4.6/27400/Tue Sep 10 08:36:39 2024`).
    ///
    /// # Errors
    /// clamd is unreachable or answered an error.
    pub async fn version(&self) -> Result<String, ClamdError> {
        let reply = self.command("zVERSION\0").await?;
        if reply.ends_with("ERROR") || reply.is_empty() {
            return Err(ClamdError::Reply(reply));
        }
        Ok(reply)
    }

    /// Send one command and read its one reply.
    async fn command(&self, command: &str) -> Result<String, ClamdError> {
        let mut conn = self.connect().await?;
        conn.write_all(command.as_bytes()).await?;
        read_reply(&mut conn).await
    }

    /// `INSTREAM`: scan the bytes of `data`, counting those sent in `sent`.
    ///
    /// # Errors
    /// clamd is unreachable, failed or answered an error other than the size limit;
    /// [`ClamdError::Source`] when `data` fails.
    pub async fn instream<S, E>(&self, data: S, sent: &AtomicU64) -> Result<Verdict, ClamdError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let conn = self.connect().await?;
        let (mut reader, writer) = conn.into_split();
        let send = send_stream(BufWriter::with_capacity(64 * 1024, writer), data, sent);
        let reply = read_reply(&mut reader);
        tokio::pin!(send, reply);
        let reply = tokio::select! {
            sent = &mut send => match sent {
                Ok(()) => reply.await?,
                // clamd may have answered (the size limit) and closed while data was going
                // out: its reply says why, when it arrived.
                Err(ClamdError::Io(e)) => match reply.await {
                    Ok(reply) if !reply.is_empty() => reply,
                    _ => return Err(ClamdError::Io(e)),
                },
                Err(other) => return Err(other),
            },
            // An answer before the end of the data is an error (the size limit, most often).
            reply = &mut reply => reply?,
        };
        parse_instream_reply(&reply)
    }
}

/// The INSTREAM command, `data` in chunks, and the terminating zero-length chunk.
async fn send_stream<W, S, E>(mut out: W, mut data: S, sent: &AtomicU64) -> Result<(), ClamdError>
where
    W: tokio::io::AsyncWrite + Unpin,
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    out.write_all(b"zINSTREAM\0").await?;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|e| ClamdError::Source(e.to_string()))?;
        for piece in chunk.chunks(MAX_CHUNK) {
            // A piece is at most MAX_CHUNK bytes, so its length fits in 4 bytes.
            let len = u32::try_from(piece.len()).unwrap_or(u32::MAX);
            out.write_all(&len.to_be_bytes()).await?;
            out.write_all(piece).await?;
            sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
        }
    }
    out.write_all(&0u32.to_be_bytes()).await?;
    out.flush().await?;
    Ok(())
}

/// One reply: the bytes up to the NUL (or the end of the connection), without it.
async fn read_reply<R: tokio::io::AsyncRead + Unpin>(conn: &mut R) -> Result<String, ClamdError> {
    let mut reply = Vec::with_capacity(64);
    let mut buf = [0u8; 512];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(end) = reply.iter().position(|b| *b == 0) {
            reply.truncate(end);
            break;
        }
        if reply.len() > MAX_REPLY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// What an INSTREAM reply says (clamd(8): `stream: OK`, `stream: <name> FOUND`,
/// `... ERROR`). Several lines may come (clamd with `AllMatchScan`); every `FOUND` counts.
///
/// # Errors
/// [`ClamdError::Reply`] for an error other than the size limit, or a reply not understood.
pub fn parse_instream_reply(reply: &str) -> Result<Verdict, ClamdError> {
    let mut threats = Vec::new();
    let mut limits = Vec::new();
    let mut clean = false;
    for line in reply.split(['\0', '\n']).map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if line == "INSTREAM size limit exceeded. ERROR" {
            return Ok(Verdict::NotScanned(
                "the file is larger than clamd scans (its StreamMaxLength)".to_owned(),
            ));
        }
        let body = line.strip_prefix("stream:").map(str::trim);
        match body {
            Some("OK") => clean = true,
            Some(found) if found.ends_with(" FOUND") => {
                let name = found.trim_end_matches(" FOUND").trim().to_owned();
                if name.starts_with(LIMITS_EXCEEDED) {
                    limits.push(name);
                } else if !name.is_empty() {
                    threats.push(name);
                }
            }
            _ => return Err(ClamdError::Reply(line.to_owned())),
        }
    }
    if !threats.is_empty() {
        return Ok(Verdict::Infected(threats));
    }
    if !limits.is_empty() {
        return Ok(Verdict::NotScanned(format!(
            "clamd did not scan all of the file: a limit was reached ({})",
            limits.join(", ")
        )));
    }
    if clean {
        Ok(Verdict::Clean)
    } else {
        Err(ClamdError::Reply(reply.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ok_reply_is_clean() {
        assert_eq!(parse_instream_reply("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_instream_reply("stream: OK\n").unwrap(),
            Verdict::Clean
        );
    }

    #[test]
    fn a_found_reply_names_the_signature() {
        assert_eq!(
            parse_instream_reply("stream: Eicar-Test-Signature FOUND").unwrap(),
            Verdict::Infected(vec!["Eicar-Test-Signature".into()])
        );
        // Unofficial databases' signatures carry a suffix; names may hold spaces and dots.
        assert_eq!(
            parse_instream_reply("stream: Win.Test.EICAR_HDB-1.UNOFFICIAL FOUND").unwrap(),
            Verdict::Infected(vec!["Win.Test.EICAR_HDB-1.UNOFFICIAL".into()])
        );
    }

    #[test]
    fn every_signature_of_an_all_match_reply_counts() {
        let reply = "stream: A FOUND\nstream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\n\
                     stream: B FOUND";
        assert_eq!(
            parse_instream_reply(reply).unwrap(),
            Verdict::Infected(vec!["A".into(), "B".into()])
        );
    }

    #[test]
    fn the_size_limit_and_the_scan_limits_mean_not_scanned() {
        let size = parse_instream_reply("INSTREAM size limit exceeded. ERROR").unwrap();
        assert!(matches!(size, Verdict::NotScanned(r) if r.contains("StreamMaxLength")));
        let limit =
            parse_instream_reply("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND").unwrap();
        assert!(matches!(limit, Verdict::NotScanned(r) if r.contains("MaxFileSize")));
    }

    #[test]
    fn other_errors_and_nonsense_are_errors() {
        for reply in [
            "stream: Can't allocate memory ERROR",
            "COMMAND READ TIMED OUT",
            "UNKNOWN COMMAND",
            "",
            "stream: FOUND",
            "PONG",
        ] {
            assert!(
                matches!(parse_instream_reply(reply), Err(ClamdError::Reply(_))),
                "{reply:?}"
            );
        }
    }

    /// A fake clamd that reads a command, then the INSTREAM chunks (checking their framing),
    /// and answers `answer` (early, after `answer_after` bytes, when given).
    async fn fake_clamd(
        answer: &'static str,
        answer_after: Option<usize>,
    ) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut command = [0u8; 10];
            conn.read_exact(&mut command).await.unwrap();
            assert_eq!(&command, b"zINSTREAM\0");
            let mut data = Vec::new();
            loop {
                let mut len = [0u8; 4];
                conn.read_exact(&mut len).await.unwrap();
                let len = u32::from_be_bytes(len) as usize;
                if len == 0 {
                    break;
                }
                let mut chunk = vec![0u8; len];
                conn.read_exact(&mut chunk).await.unwrap();
                data.extend_from_slice(&chunk);
                if answer_after.is_some_and(|n| data.len() >= n) {
                    break;
                }
            }
            conn.write_all(answer.as_bytes()).await.unwrap();
            conn.write_all(b"\0").await.unwrap();
            data
        });
        (port, task)
    }

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn instream_frames_the_data_and_reads_the_verdict() {
        let (port, server) = fake_clamd("stream: OK", None).await;
        let sent = AtomicU64::new(0);
        let verdict = Clamd::new("127.0.0.1", port)
            .instream(chunks(&[b"a,b\n", b"", b"1,2\n"]), &sent)
            .await
            .unwrap();
        assert_eq!(verdict, Verdict::Clean);
        assert_eq!(server.await.unwrap(), b"a,b\n1,2\n");
        assert_eq!(sent.load(Ordering::Relaxed), 8);
    }

    #[tokio::test]
    async fn an_answer_before_the_end_of_the_data_is_read() {
        let (port, _server) = fake_clamd("INSTREAM size limit exceeded. ERROR", Some(4)).await;
        let big: &'static [u8] = Box::leak(vec![b'x'; 8 * 1024 * 1024].into_boxed_slice());
        let verdict = Clamd::new("127.0.0.1", port)
            .instream(chunks(&[b"abcd", big, big]), &AtomicU64::new(0))
            .await
            .unwrap();
        assert!(matches!(verdict, Verdict::NotScanned(_)));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let clamd = Clamd::new("127.0.0.1", port);
        assert!(matches!(
            clamd.ping().await,
            Err(ClamdError::Connect { .. })
        ));
        let err = clamd
            .instream(chunks(&[b"x"]), &AtomicU64::new(0))
            .await
            .unwrap_err();
        assert!(matches!(err, ClamdError::Connect { .. }));
    }
}
