//! `fileproc healthcheck`: the container's liveness probe (the Dockerfile's `HEALTHCHECK`, the
//! Compose healthcheck). It sits outside the data flow: one `GET /health` of the instance on this
//! machine, at the port the same settings give the server, so the runtime image needs no curl.

use std::time::Duration;

use crate::config::ServerSettings;

/// Why the probe failed; the command prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// No answer: nothing listens, the connection broke, or the timeout passed.
    #[error("GET {url}: no answer")]
    Request {
        /// The URL probed.
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// An answer other than 200 OK.
    #[error("GET {url}: status {status}")]
    Status {
        /// The URL probed.
        url: String,
        /// The HTTP status received.
        status: u16,
    },
}

/// The URL of this instance's `/health` as reached from the same machine: the configured
/// `server.host`, or loopback (`127.0.0.1`, `[::1]`) when it listens on every address, and
/// `server.port`. E.g. `http://127.0.0.1:8080/health`.
pub fn health_url(server: &ServerSettings) -> String {
    let host = server.host.trim_start_matches('[').trim_end_matches(']');
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1".to_owned(),
        "::" => "[::1]".to_owned(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_owned(),
    };
    format!("http://{host}:{}/health", server.port)
}

/// GETs `url` and succeeds exactly when the answer is 200 OK within `timeout` (connection
/// included).
///
/// # Errors
/// [`HealthcheckError::Request`] when there is no answer in time, [`HealthcheckError::Status`]
/// when the status is not 200.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), HealthcheckError> {
    let request_error = |source| HealthcheckError::Request {
        url: url.to_owned(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .map_err(request_error)?;
    let response = client.get(url).send().await.map_err(request_error)?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(HealthcheckError::Status {
            url: url.to_owned(),
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16) -> ServerSettings {
        ServerSettings {
            host: host.to_owned(),
            port,
            ..ServerSettings::default()
        }
    }

    #[test]
    fn wildcard_hosts_are_probed_on_loopback() {
        assert_eq!(
            health_url(&server("0.0.0.0", 8080)),
            "http://127.0.0.1:8080/health"
        );
        assert_eq!(health_url(&server("::", 9000)), "http://[::1]:9000/health");
        assert_eq!(
            health_url(&server("[::]", 9000)),
            "http://[::1]:9000/health"
        );
    }

    #[test]
    fn a_specific_host_is_probed_as_configured() {
        assert_eq!(
            health_url(&server("10.0.0.5", 8081)),
            "http://10.0.0.5:8081/health"
        );
        assert_eq!(health_url(&server("::1", 80)), "http://[::1]:80/health");
    }
}
