//! Connection URLs for the catalog and Redis, built from the settings, and URL redaction for messages.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::{DatabaseDriver, DatabaseSettings, RedisSettings};

/// Where the catalog lives.
#[derive(Clone, Debug)]
pub enum CatalogUrl {
    /// A SQLite database file (created if missing), or `:memory:`.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user:password@host:port/name?sslmode=...`); secret because it
    /// may hold the password.
    Postgres(SecretString),
}

impl CatalogUrl {
    pub fn driver(&self) -> DatabaseDriver {
        match self {
            CatalogUrl::Sqlite(_) => DatabaseDriver::Sqlite,
            CatalogUrl::Postgres(_) => DatabaseDriver::Postgres,
        }
    }
}

/// The driver a `url` names by its scheme, and for SQLite its path.
pub(super) fn parse_database_url(url: &str) -> Option<CatalogUrl> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Some(CatalogUrl::Postgres(SecretString::from(url.to_owned())));
    }
    let path = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("sqlite:"))
        .map(|_| &url[7..])?;
    let path = path.strip_prefix("//").unwrap_or(path);
    (!path.is_empty() && !path.contains('?')).then(|| CatalogUrl::Sqlite(PathBuf::from(path)))
}

impl DatabaseSettings {
    /// The catalog to open. In order: `url` if set (its scheme picks the driver); SQLite at
    /// `sqlite_path` if `driver` is `sqlite`; PostgreSQL built from `host` (default `localhost`),
    /// `port`, `name`, `user`, `password` and `sslmode` if `driver` is `postgres` or `host` is set;
    /// otherwise SQLite at `sqlite_path`. `validate` has already refused a `url` it cannot read.
    pub fn connection_url(&self) -> CatalogUrl {
        if let Some(url) = &self.url
            && let Some(catalog) = parse_database_url(url.expose_secret())
        {
            return catalog;
        }
        let postgres = match self.driver {
            Some(DatabaseDriver::Postgres) => true,
            Some(DatabaseDriver::Sqlite) => false,
            None => self.host.is_some(),
        };
        if !postgres {
            return CatalogUrl::Sqlite(self.sqlite_path.clone());
        }
        let mut url = format!("postgres://{}", encode(&self.user));
        if let Some(password) = &self.password {
            url.push(':');
            url.push_str(&encode(password.expose_secret()));
        }
        let host = self.host.as_deref().unwrap_or("localhost");
        url.push_str(&format!(
            "@{}:{}/{}?sslmode={}",
            bracket_ipv6(host),
            self.port,
            encode(&self.name),
            encode(&self.sslmode)
        ));
        CatalogUrl::Postgres(SecretString::from(url))
    }
}

impl RedisSettings {
    /// The Redis URL, or `None` for the in-process cache and progress bus: `url` if set, else one
    /// built from `host`, `port`, `username`, `password` and `db` if `host` is set.
    pub fn connection_url(&self) -> Option<SecretString> {
        if let Some(url) = &self.url {
            return Some(url.clone());
        }
        let host = self.host.as_deref()?;
        let mut url = String::from("redis://");
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => url.push_str(&format!(
                "{}:{}@",
                encode(user),
                encode(password.expose_secret())
            )),
            (Some(user), None) => url.push_str(&format!("{}@", encode(user))),
            (None, Some(password)) => {
                url.push_str(&format!(":{}@", encode(password.expose_secret())))
            }
            (None, None) => {}
        }
        url.push_str(&format!("{}:{}/{}", bracket_ipv6(host), self.port, self.db));
        Some(SecretString::from(url))
    }
}

fn bracket_ipv6(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a URL's user, password or path.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` with the password of a `scheme://user:password@host` URL replaced by `***`, for messages.
pub(crate) fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return text.to_owned();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    format!("{scheme}://{masked}{}", &rest[at..])
}
