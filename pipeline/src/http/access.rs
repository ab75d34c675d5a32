//! Who may do what over HTTP.
//!
//! Reading is open to whoever reaches the listener, which is loopback
//! unless configured otherwise. Changing state (`POST /-/reload`) needs
//! the provincial bearer token, read from the file `[access] token_file`
//! names (a secret in a file, not in the configuration). Without a token
//! configured, state-changing requests are refused (403) and the pages
//! offer none; a wrong or missing token is 401.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// `[access]` of the live configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// A file holding the provincial bearer token (at least
    /// [`MIN_TOKEN_CHARS`] characters; surrounding whitespace is ignored).
    /// Absent: nothing can be changed over HTTP.
    pub token_file: Option<PathBuf>,
}

/// Shorter tokens are refused: they could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// A token file that cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the token file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token in {} is {chars} characters long; use at least {MIN_TOKEN_CHARS} (e.g. `openssl rand -hex 32 > {}`)", path.display(), path.display())]
    TooShort { path: PathBuf, chars: usize },
}

/// A bearer token, never shown in logs.
#[derive(Clone, PartialEq, Eq)]
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    fn read(path: &Path) -> Result<Token, AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read { path: path.to_path_buf(), source })?;
        let token = text.trim();
        let chars = token.chars().count();
        if chars < MIN_TOKEN_CHARS {
            return Err(AccessError::TooShort { path: path.to_path_buf(), chars });
        }
        Ok(Token(token.to_string()))
    }

    /// Compares in time independent of where the texts differ.
    fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        let mut differ = a.len() ^ b.len();
        for (i, x) in a.iter().enumerate() {
            differ |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
        }
        differ == 0
    }
}

/// The tokens in force.
#[derive(Debug, Clone, Default)]
pub struct Access {
    provincial: Option<Token>,
}

impl Access {
    /// Reads the token files of `config`.
    pub fn load(config: &AccessConfig) -> Result<Access, AccessError> {
        let provincial = config.token_file.as_deref().map(Token::read).transpose()?;
        Ok(Access { provincial })
    }

    /// Whether any state-changing request can be made at all.
    pub fn allows_changes(&self) -> bool {
        self.provincial.is_some()
    }

    /// `Ok` when `headers` carry the provincial token; else the refusal to send.
    pub fn may_change_state(&self, headers: &HeaderMap) -> Result<(), Response> {
        let Some(token) = &self.provincial else {
            let why = "state-changing requests are disabled: no [access] token_file is configured (reload with SIGHUP instead)";
            return Err((StatusCode::FORBIDDEN, why).into_response());
        };
        let offered = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match offered {
            Some(offered) if token.matches(offered.trim()) => Ok(()),
            _ => Err((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"vbp-watch\"")],
                "this request changes state: send the provincial token as `Authorization: Bearer <token>`",
            )
                .into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        h
    }

    #[test]
    fn only_the_configured_token_may_change_state() {
        let access = Access { provincial: Some(Token("0123456789abcdef-secret".into())) };
        assert!(access.may_change_state(&headers("Bearer 0123456789abcdef-secret")).is_ok());
        for wrong in ["Bearer 0123456789abcdef-secreT", "Bearer 0123456789abcdef-secret2", "Bearer ", "Basic 0123456789abcdef-secret", "0123456789abcdef-secret"] {
            let refused = access.may_change_state(&headers(wrong)).unwrap_err();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{wrong}");
        }
        assert_eq!(access.may_change_state(&HeaderMap::new()).unwrap_err().status(), StatusCode::UNAUTHORIZED);
        let none = Access::default();
        assert_eq!(none.may_change_state(&headers("Bearer anything")).unwrap_err().status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_short_or_missing_token_file_is_refused_with_its_path() {
        let dir = std::env::temp_dir().join(format!("vbp-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "abc\n").unwrap();
        let err = Access::load(&AccessConfig { token_file: Some(short.clone()) }).unwrap_err();
        assert!(err.to_string().contains("3 characters") && err.to_string().contains(&short.display().to_string()), "{err}");
        let missing = dir.join("missing");
        assert!(matches!(Access::load(&AccessConfig { token_file: Some(missing) }), Err(AccessError::Read { .. })));
        let good = dir.join("good");
        std::fs::write(&good, "  0123456789abcdef\n").unwrap();
        let access = Access::load(&AccessConfig { token_file: Some(good) }).unwrap();
        assert!(access.may_change_state(&headers("Bearer 0123456789abcdef")).is_ok());
        assert!(format!("{access:?}").contains("redacted"));
    }
}
