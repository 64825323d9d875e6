//! Who is calling: `security.auth.mode` `none` (one implicit owner), `api_key` (the
//! `X-API-Key` header, as the service this one replaces used) or `jwt` (`Authorization: Bearer`,
//! RFC 6750; tokens per RFC 7519, `sub` is the owner). Browsers cannot set headers on a
//! WebSocket or an `EventSource`, so `/ws` and `/api/v1/files/{id}/events` also take the
//! credential as `?token=`.
//!
//! The middleware ([`authenticate`]) runs before every API route but the health probes and tus
//! discovery (OPTIONS), and puts the caller's [`Owner`] in the request; a missing or bad
//! credential is a 401 with `WWW-Authenticate`. API keys are configured as SHA-256 digests and
//! compared in constant time.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;
use crate::config::{AuthMode, AuthSettings, JwtSettings};
use crate::state::{AppState, DEFAULT_OWNER};

/// The owner of the request's files: the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Owner>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized {
                message: "no credentials were checked for this route".into(),
                challenge: "ApiKey",
            })
    }
}

/// Checks credentials as the settings say.
pub struct Authenticator {
    scheme: Scheme,
}

enum Scheme {
    None,
    /// (owner, SHA-256 of the key).
    ApiKeys(Vec<(String, [u8; 32])>),
    Jwt(Box<JwtVerifier>),
}

/// Why a caller was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No credential at all.
    #[error("credentials are required: {0}")]
    Missing(&'static str),
    /// A credential that does not check out; the message says why, without echoing it.
    #[error("{0}")]
    Invalid(String),
}

impl Authenticator {
    /// Build the checks `settings` describe.
    ///
    /// # Errors
    /// A message naming the setting that is wrong: an API key entry that is not
    /// `owner:sha256-hex`, a JWT setup without its secret or key, an unreadable key file.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, String> {
        let scheme = match settings.mode {
            AuthMode::None => Scheme::None,
            AuthMode::ApiKey => Scheme::ApiKeys(parse_api_keys(&settings.api_keys)?),
            AuthMode::Jwt => Scheme::Jwt(Box::new(JwtVerifier::from_settings(&settings.jwt)?)),
        };
        Ok(Authenticator { scheme })
    }

    /// The `WWW-Authenticate` challenge of a 401.
    pub fn challenge(&self) -> &'static str {
        match self.scheme {
            Scheme::Jwt(_) => "Bearer realm=\"fileproc\"",
            _ => "ApiKey realm=\"fileproc\", header=\"X-API-Key\"",
        }
    }

    /// The owner `headers` (or `token`, from `?token=` where allowed) prove.
    ///
    /// # Errors
    /// [`AuthError`] when the credential is missing or does not check out.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        token: Option<&str>,
    ) -> Result<String, AuthError> {
        match &self.scheme {
            Scheme::None => Ok(DEFAULT_OWNER.to_owned()),
            Scheme::ApiKeys(keys) => {
                if headers.get_all("x-api-key").iter().count() > 1 {
                    return Err(AuthError::Invalid("send one X-API-Key header".into()));
                }
                let key = header(headers, "x-api-key")
                    .or(token)
                    .ok_or(AuthError::Missing("send the X-API-Key header"))?;
                let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
                // Every entry is compared, so the time does not tell which one matched.
                let mut found: Option<&str> = None;
                for (owner, hash) in keys {
                    if bool::from(hash.ct_eq(&digest)) {
                        found = Some(owner);
                    }
                }
                found
                    .map(str::to_owned)
                    .ok_or_else(|| AuthError::Invalid("the API key is not valid".into()))
            }
            Scheme::Jwt(verifier) => {
                let bearer = header(headers, "authorization")
                    .and_then(|v| {
                        v.strip_prefix("Bearer ")
                            .or_else(|| v.strip_prefix("bearer "))
                    })
                    .map(str::trim)
                    .or(token)
                    .ok_or(AuthError::Missing("send Authorization: Bearer <token>"))?;
                verifier.verify(bearer)
            }
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `owner:sha256-hex` entries.
fn parse_api_keys(entries: &[String]) -> Result<Vec<(String, [u8; 32])>, String> {
    if entries.is_empty() {
        return Err(
            "security.auth.api_keys = []: expected at least one owner:sha256 entry, \
                    since security.auth.mode is api_key"
                .into(),
        );
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let bad = || {
                format!(
                    "security.auth.api_keys entry {}: expected owner:sha256 (64 hex digits; \
                     `fileproc hash-key KEY` prints it)",
                    i + 1
                )
            };
            let (owner, digest) = entry.rsplit_once(':').ok_or_else(bad)?;
            let bytes = hex::decode(digest.trim()).map_err(|_| bad())?;
            let hash: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
            let owner = owner.trim();
            if owner.is_empty() {
                return Err(bad());
            }
            Ok((owner.to_owned(), hash))
        })
        .collect()
}

/// The hex SHA-256 of an API key, as `security.auth.api_keys` holds it.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Longest owner id a token may name, in bytes.
const MAX_OWNER_LEN: usize = 255;

/// The claims fileproc reads; `exp`, `nbf`, `iss` and `aud` are checked by the validation.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// Verifies tokens with one key, or with the JWKS key their `kid` names.
struct JwtVerifier {
    keys: Vec<(Option<String>, DecodingKey)>,
    validation: Validation,
}

impl JwtVerifier {
    fn from_settings(s: &JwtSettings) -> Result<Self, String> {
        let algorithm: Algorithm = match s.algorithm.to_ascii_uppercase().as_str() {
            "HS256" => Algorithm::HS256,
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => {
                return Err(format!(
                    "security.auth.jwt.algorithm = {other}: expected HS256, RS256 or ES256"
                ));
            }
        };
        let read = |path: &std::path::Path, key: &str| {
            std::fs::read(path).map_err(|e| format!("{key} = {}: {e}", path.display()))
        };
        let keys = match (algorithm, &s.secret, &s.public_key_file, &s.jwks_file) {
            (Algorithm::HS256, Some(secret), _, _) => {
                vec![(
                    None,
                    DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                )]
            }
            (Algorithm::HS256, None, _, _) => {
                return Err(
                    "security.auth.jwt.secret = (unset): expected the HS256 secret \
                            (JWT_SECRET), since security.auth.mode is jwt"
                        .into(),
                );
            }
            (_, _, _, Some(jwks)) => {
                let text = read(jwks, "security.auth.jwt.jwks_file")?;
                let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&text)
                    .map_err(|e| format!("security.auth.jwt.jwks_file: not a JWKS: {e}"))?;
                set.keys
                    .iter()
                    .map(|jwk| {
                        DecodingKey::from_jwk(jwk)
                            .map(|k| (jwk.common.key_id.clone(), k))
                            .map_err(|e| format!("security.auth.jwt.jwks_file: a key: {e}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            (_, _, Some(pem), None) => {
                let pem = read(pem, "security.auth.jwt.public_key_file")?;
                let key = if algorithm == Algorithm::RS256 {
                    DecodingKey::from_rsa_pem(&pem)
                } else {
                    DecodingKey::from_ec_pem(&pem)
                };
                vec![(
                    None,
                    key.map_err(|e| format!("security.auth.jwt.public_key_file: {e}"))?,
                )]
            }
            (_, _, None, None) => {
                return Err(format!(
                    "security.auth.jwt.public_key_file = (unset): expected a PEM public key or a \
                     jwks_file, since the algorithm is {algorithm:?}"
                ));
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = s.leeway.as_secs();
        validation.validate_nbf = true;
        // A configured iss or aud is required, not only checked when present: a token for
        // another audience of the same issuer that simply omits aud must not pass.
        let mut required = vec!["exp", "sub"];
        if s.issuer.is_some() {
            required.push("iss");
        }
        if s.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        if let Some(iss) = &s.issuer {
            validation.set_issuer(&[iss]);
        }
        match &s.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(JwtVerifier { keys, validation })
    }

    fn verify(&self, token: &str) -> Result<String, AuthError> {
        let invalid = |why: String| AuthError::Invalid(format!("the token is not valid: {why}"));
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("it is malformed or names an unsupported algorithm".into()))?;
        let key = match (&header.kid, self.keys.len()) {
            (_, 1) => &self.keys[0].1,
            (Some(kid), _) => self
                .keys
                .iter()
                .find(|(id, _)| id.as_deref() == Some(kid.as_str()))
                .map(|(_, k)| k)
                .ok_or_else(|| invalid(format!("no key has kid {kid:?}")))?,
            (None, _) => return Err(invalid("it names no key (kid)".into())),
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            // Say what is wrong without echoing the parser's internals.
            invalid(
                match e.kind() {
                    ErrorKind::ExpiredSignature => "it has expired",
                    ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
                    ErrorKind::InvalidIssuer => "its issuer (iss) is not the one expected",
                    ErrorKind::InvalidAudience => "its audience (aud) is not this service",
                    ErrorKind::InvalidSignature => "its signature does not verify",
                    ErrorKind::InvalidAlgorithm => "it is signed with another algorithm",
                    ErrorKind::MissingRequiredClaim(_) => {
                        "a required claim (exp, sub, and iss/aud when configured) is missing"
                    }
                    _ => "it is malformed",
                }
                .to_owned(),
            )
        })?;
        let sub = &data.claims.sub;
        if sub.trim().is_empty() || sub.len() > MAX_OWNER_LEN || sub.chars().any(char::is_control) {
            return Err(invalid(format!(
                "its sub (the owner) must be 1 to {MAX_OWNER_LEN} bytes without control characters"
            )));
        }
        Ok(data.claims.sub)
    }
}

/// Whether `path` may carry its credential as `?token=` (browsers cannot set headers there).
fn takes_query_token(path: &str) -> bool {
    path == "/ws" || (path.starts_with("/api/v1/files/") && path.ends_with("/events"))
}

/// The `token` query parameter, percent-decoded.
fn query_token(request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn rate_limited(wait: std::time::Duration) -> Response {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::RateLimited {
        retry_after: retry_after.max(1),
    }
    .into_response()
}

/// The client's address: the TCP peer, or the first `X-Forwarded-For` entry when trusted.
fn client_ip(request: &Request, trust_forwarded_for: bool) -> Option<std::net::IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware: authenticate the request and put its [`Owner`] in it (401 otherwise), then count
/// it against the rate limits (429 when spent).
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // Preflights and tus discovery carry no credentials.
    if request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let token = takes_query_token(request.uri().path())
        .then(|| query_token(&request))
        .flatten();
    // The address is counted before the credential is checked, so failed attempts (a guessed
    // key, a flood without one) spend the budget too.
    let ip = client_ip(&request, state.rate_limits.trust_forwarded_for);
    if let Err(wait) = state.rate_limits.check_ip(ip) {
        return rate_limited(wait);
    }
    match state.auth.authenticate(request.headers(), token.as_deref()) {
        Ok(owner) => {
            if let Err(wait) = state.rate_limits.check_owner(&owner) {
                return rate_limited(wait);
            }
            request.extensions_mut().insert(Owner(owner));
            next.run(request).await
        }
        Err(e) => ApiError::Unauthorized {
            message: e.to_string(),
            challenge: state.auth.challenge(),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;
    use std::time::Duration;

    fn api_keys(entries: &[&str]) -> Authenticator {
        Authenticator::from_settings(&AuthSettings {
            mode: AuthMode::ApiKey,
            api_keys: entries.iter().map(|s| (*s).to_owned()).collect(),
            ..AuthSettings::default()
        })
        .unwrap()
    }

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn api_keys_are_matched_by_their_digest() {
        let auth = api_keys(&[
            &format!("alice:{}", hash_key("k-alice")),
            &format!("bob:{}", hash_key("k-bob")),
        ]);
        assert_eq!(
            auth.authenticate(&with("x-api-key", "k-bob"), None),
            Ok("bob".into())
        );
        assert_eq!(
            auth.authenticate(&HeaderMap::new(), Some("k-alice")),
            Ok("alice".into())
        );
        assert!(matches!(
            auth.authenticate(&with("x-api-key", "nope"), None),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            auth.authenticate(&HeaderMap::new(), None),
            Err(AuthError::Missing(_))
        ));
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let bad = AuthSettings {
            mode: AuthMode::ApiKey,
            api_keys: vec!["alice:xyz".into()],
            ..AuthSettings::default()
        };
        let Err(message) = Authenticator::from_settings(&bad) else {
            panic!("a malformed entry was accepted")
        };
        assert!(message.contains("entry 1"), "{message}");
    }

    fn hs256(claims: &serde_json::Value) -> String {
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap()
    }

    #[test]
    fn jwts_are_checked_for_signature_time_issuer_and_audience() {
        let settings = AuthSettings {
            mode: AuthMode::Jwt,
            jwt: JwtSettings {
                secret: Some("s3cret".to_owned().into()),
                issuer: Some("https://issuer.example".into()),
                audience: Some("fileproc".into()),
                leeway: Duration::from_secs(0),
                ..JwtSettings::default()
            },
            ..AuthSettings::default()
        };
        let auth = Authenticator::from_settings(&settings).unwrap();
        let now = chrono::Utc::now().timestamp();
        let good = json!({"sub": "carol", "exp": now + 60, "iss": "https://issuer.example", "aud": "fileproc"});
        let bearer = |t: &str| with("authorization", &format!("Bearer {t}"));
        assert_eq!(
            auth.authenticate(&bearer(&hs256(&good)), None),
            Ok("carol".into())
        );
        for (what, claims) in [
            (
                "expired",
                json!({"sub": "c", "exp": now - 60, "iss": "https://issuer.example", "aud": "fileproc"}),
            ),
            (
                "not yet valid",
                json!({"sub": "c", "exp": now + 60, "nbf": now + 60, "iss": "https://issuer.example", "aud": "fileproc"}),
            ),
            (
                "other issuer",
                json!({"sub": "c", "exp": now + 60, "iss": "https://evil.example", "aud": "fileproc"}),
            ),
            (
                "other audience",
                json!({"sub": "c", "exp": now + 60, "iss": "https://issuer.example", "aud": "x"}),
            ),
            (
                "no exp",
                json!({"sub": "c", "iss": "https://issuer.example", "aud": "fileproc"}),
            ),
            (
                "no aud",
                json!({"sub": "c", "exp": now + 60, "iss": "https://issuer.example"}),
            ),
            (
                "no iss",
                json!({"sub": "c", "exp": now + 60, "aud": "fileproc"}),
            ),
            (
                "a control character in sub",
                json!({"sub": "a\nb", "exp": now + 60, "iss": "https://issuer.example", "aud": "fileproc"}),
            ),
            (
                "a huge sub",
                json!({"sub": "x".repeat(300), "exp": now + 60, "iss": "https://issuer.example", "aud": "fileproc"}),
            ),
        ] {
            assert!(
                matches!(
                    auth.authenticate(&bearer(&hs256(&claims)), None),
                    Err(AuthError::Invalid(_))
                ),
                "{what}"
            );
        }
        let forged = encode(
            &Header::default(),
            &good,
            &EncodingKey::from_secret(b"other"),
        )
        .unwrap();
        assert!(auth.authenticate(&bearer(&forged), None).is_err());
        assert!(auth.authenticate(&bearer("not.a.jwt"), None).is_err());
        assert!(matches!(
            auth.authenticate(&HeaderMap::new(), None),
            Err(AuthError::Missing(_))
        ));
    }

    #[test]
    fn only_progress_routes_take_a_query_token() {
        assert!(takes_query_token("/ws"));
        assert!(takes_query_token("/api/v1/files/abc/events"));
        assert!(!takes_query_token("/api/v1/files/abc/download"));
    }
}
