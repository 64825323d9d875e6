//! The `security.auth`, `security.rate_limit` and `security.cors` sections: who may call the
//! API, how often, and from which web origins.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use super::{AuthMode, units};

/// `security.auth`: how callers prove who they are; the owner of every file is the caller.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// `none` (one implicit owner, for local use), `api_key` (`X-API-Key`) or `jwt`
    /// (`Authorization: Bearer`) (`AUTH_MODE`). Default `none`.
    pub mode: AuthMode,
    /// API keys as `owner:sha256` entries, the SHA-256 of the key in hex (`fileproc hash-key KEY`
    /// prints it), so the configuration never holds a usable key (`API_KEYS`, comma-separated).
    #[serde(deserialize_with = "units::string_list")]
    pub api_keys: Vec<String>,
    /// JSON Web Tokens.
    pub jwt: JwtSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            mode: AuthMode::None,
            api_keys: Vec::new(),
            jwt: JwtSettings::default(),
        }
    }
}

/// `security.auth.jwt`: how tokens are checked (RFC 7519); the `sub` claim is the owner.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct JwtSettings {
    /// `HS256` (shared secret), `RS256` or `ES256` (public key or JWKS). Default `HS256`.
    #[serde(deserialize_with = "units::string")]
    pub algorithm: String,
    /// The HS256 shared secret (`JWT_SECRET`).
    #[serde(deserialize_with = "units::opt_secret")]
    pub secret: Option<SecretString>,
    /// A PEM file with the RS256 or ES256 public key (`JWT_PUBLIC_KEY_FILE`).
    pub public_key_file: Option<PathBuf>,
    /// A JWKS file (RFC 7517) whose keys are chosen by the token's `kid` (`JWT_JWKS_FILE`).
    pub jwks_file: Option<PathBuf>,
    /// Required `iss`, when set (`JWT_ISSUER`).
    #[serde(deserialize_with = "units::opt_string")]
    pub issuer: Option<String>,
    /// Required `aud`, when set (`JWT_AUDIENCE`).
    #[serde(deserialize_with = "units::opt_string")]
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf` (duration). Default 30 s.
    #[serde(deserialize_with = "units::duration")]
    pub leeway: Duration,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            algorithm: "HS256".into(),
            secret: None,
            public_key_file: None,
            jwks_file: None,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
        }
    }
}

/// `security.rate_limit`: requests allowed per client IP and per owner, as a token bucket
/// (`burst` at once, refilled at `per_second`); beyond it, 429 with `Retry-After`. 0 turns a
/// limit off.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Requests per second per client IP (`RATE_LIMIT_PER_IP`). Default 0 (off).
    pub per_ip: u32,
    /// Requests per second per owner (`RATE_LIMIT_PER_OWNER`). Default 0 (off).
    pub per_owner: u32,
    /// Requests a client may make at once before the rate applies. Default 2 × the rate.
    pub burst: Option<u32>,
    /// Take the client IP from the first address of `X-Forwarded-For` (only behind a proxy
    /// that sets it). Default false: the TCP peer.
    #[serde(deserialize_with = "units::boolean")]
    pub trust_forwarded_for: bool,
}

/// `security.cors`: web origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CorsSettings {
    /// Origins such as `https://app.example.com`, or `*` for any (refused when auth is on);
    /// empty: no cross-origin calls (`CORS_ALLOWED_ORIGINS`, comma-separated). Default empty.
    #[serde(deserialize_with = "units::string_list")]
    pub allowed_origins: Vec<String>,
}
