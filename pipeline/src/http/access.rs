//! Who may do what over HTTP (SPEC §1: a bureau sees its own institutions,
//! and only those).
//!
//! - **No token configured**: the pages, the APIs and `/metrics` answer
//!   loopback clients that name a loopback host only (anyone else gets 403,
//!   and a page of another site cannot reach them by rebinding its name to
//!   127.0.0.1), and nothing can be changed over HTTP. `/healthz` and
//!   `/readyz` stay open for probes. Behind a reverse proxy every client
//!   looks local: configure tokens.
//! - **The provincial token** (`[access] token_file`) sees everything and
//!   is the only one that changes state (`POST /-/reload`, acknowledging an
//!   incident).
//! - **A bureau token** (`[[access.bureaus]]`, each bound to a district or
//!   city code) sees that division's alerts, incidents, history and report
//!   rows only, and gets 403 for the rest.
//!
//! - **The metrics token** (`metrics_token_file`) reads `/metrics` only.
//!
//! A token travels as `Authorization: Bearer …` (scripts) or in the
//! `vbp_token` cookie `/login` sets (browsers; `HttpOnly`, `SameSite=Strict`).
//! A form posted with the cookie must come from this origin
//! (`Sec-Fetch-Site: same-origin`, or an `Origin` naming this host): another
//! site, or another port of this one, cannot post it. Tokens are read from
//! files (a secret in a file, not in the configuration); a wrong or missing
//! one is 401.

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
    /// Bureau tokens, each seeing one division.
    pub bureaus: Vec<BureauAccess>,
    /// A file holding the token Prometheus scrapes `/metrics` with
    /// (`authorization: credentials_file` in its scrape config). With
    /// tokens configured `/metrics` needs it or the provincial token: its
    /// series are every division's.
    pub metrics_token_file: Option<PathBuf>,
}

/// One `[[access.bureaus]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BureauAccess {
    /// The district (its institutions) or city (all of its districts) the bureau sees.
    pub division_code: String,
    pub token_file: PathBuf,
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
    #[error("[[access.bureaus]] division_code `{0}` is not a 6-digit district or city code")]
    BadDivision(String),
    #[error("the token in {} is also another holder's: every token must be its own", .0.display())]
    Shared(PathBuf),
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

/// Who is asking, as their token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// The metrics token: `/metrics` only.
    Scraper,
    /// No token is configured and the client is on loopback: sees
    /// everything, changes nothing.
    Local,
    /// The provincial token: sees everything, may change state.
    Province,
    /// A bureau's token: sees one district's institutions, or a city's.
    Bureau { division_code: String },
}

impl Viewer {
    /// Whether an alert with these labels is the viewer's: a bureau sees
    /// the alerts of its district, or every alert of its city (a supply
    /// break is a city's: a district does not see it).
    pub fn sees_labels(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        match self {
            Viewer::Local | Viewer::Province => true,
            Viewer::Scraper => false,
            Viewer::Bureau { division_code } => {
                let label = |l: &str| labels.get(l).map(String::as_str);
                label("division_code") == Some(division_code) || label("city_code") == Some(division_code)
            }
        }
    }

    pub fn sees_institution(&self, institution: &vbp_detectors::reference::Institution) -> bool {
        match self {
            Viewer::Local | Viewer::Province => true,
            Viewer::Scraper => false,
            Viewer::Bureau { division_code } => institution.division_code == *division_code || institution.city_code == *division_code,
        }
    }

    /// Whether the rows of division `code` (a district or a city) are the viewer's.
    pub fn sees_division(&self, code: &str) -> bool {
        match self {
            Viewer::Local | Viewer::Province => true,
            Viewer::Scraper => false,
            Viewer::Bureau { division_code } => {
                code == division_code || vbp_detectors::reference::city_code_of(code).as_deref() == Some(division_code.as_str())
            }
        }
    }

    /// Whether the viewer sees the whole province (the circular, every division).
    pub fn sees_province(&self) -> bool {
        matches!(self, Viewer::Local | Viewer::Province)
    }

    /// Whether the viewer may read `/metrics` (every division's series).
    pub fn reads_metrics(&self) -> bool {
        matches!(self, Viewer::Local | Viewer::Province | Viewer::Scraper)
    }

    pub fn may_change_state(&self) -> bool {
        *self == Viewer::Province
    }

    /// The division a bureau is bound to.
    pub fn division(&self) -> Option<&str> {
        match self {
            Viewer::Bureau { division_code } => Some(division_code),
            _ => None,
        }
    }
}

/// The cookie `/login` sets.
pub const COOKIE: &str = "vbp_token";

/// The tokens in force.
#[derive(Debug, Clone, Default)]
pub struct Access {
    provincial: Option<Token>,
    bureaus: Vec<(Token, String)>,
    scraper: Option<Token>,
}

impl Access {
    /// Reads the token files of `config`.
    pub fn load(config: &AccessConfig) -> Result<Access, AccessError> {
        let provincial = config.token_file.as_deref().map(Token::read).transpose()?;
        let scraper = config.metrics_token_file.as_deref().map(Token::read).transpose()?;
        if let (Some(path), true) = (&config.metrics_token_file, scraper.is_some() && scraper == provincial) {
            return Err(AccessError::Shared(path.clone()));
        }
        let mut bureaus: Vec<(Token, String)> = Vec::new();
        for b in &config.bureaus {
            let code = &b.division_code;
            if code.len() != 6 || !code.bytes().all(|c| c.is_ascii_digit()) || code.ends_with("0000") {
                return Err(AccessError::BadDivision(code.clone()));
            }
            let token = Token::read(&b.token_file)?;
            if provincial.as_ref() == Some(&token) || scraper.as_ref() == Some(&token) || bureaus.iter().any(|(t, _)| *t == token) {
                return Err(AccessError::Shared(b.token_file.clone()));
            }
            bureaus.push((token, code.clone()));
        }
        Ok(Access { provincial, bureaus, scraper })
    }

    /// Whether any state-changing request can be made at all.
    pub fn allows_changes(&self) -> bool {
        self.provincial.is_some()
    }

    /// Whether any token is configured (else: loopback only).
    pub fn has_tokens(&self) -> bool {
        self.provincial.is_some() || !self.bureaus.is_empty() || self.scraper.is_some()
    }

    /// Who the request comes from, or the refusal to send: 401 for a
    /// missing or wrong token, 403 for a client beyond loopback (or one
    /// naming another host) when no token is configured.
    pub fn viewer(&self, headers: &HeaderMap, peer: Option<std::net::SocketAddr>) -> Result<Viewer, Response> {
        if !self.has_tokens() {
            let local = peer.is_some_and(|addr| addr.ip().is_loopback()) && names_loopback(headers);
            return if local {
                Ok(Viewer::Local)
            } else {
                Err((StatusCode::FORBIDDEN, "this instance has no [access] tokens: its pages answer loopback clients only").into_response())
            };
        }
        let offered = offered_token(headers).ok_or_else(unauthorized)?;
        if self.provincial.as_ref().is_some_and(|t| t.matches(&offered)) {
            return Ok(Viewer::Province);
        }
        if self.scraper.as_ref().is_some_and(|t| t.matches(&offered)) {
            return Ok(Viewer::Scraper);
        }
        // Every bureau token is compared, so the time taken does not say which matched.
        let matched = self.bureaus.iter().filter(|(t, _)| t.matches(&offered)).map(|(_, code)| code.clone()).last();
        matched.map(|division_code| Viewer::Bureau { division_code }).ok_or_else(unauthorized)
    }

    /// `Ok` when the request carries the provincial token — as a bearer
    /// token, or as the cookie of a form posted from this origin; else the
    /// refusal to send (403 when none is configured or the form came from
    /// elsewhere, 401 otherwise).
    pub fn may_change_state(&self, headers: &HeaderMap) -> Result<(), Response> {
        if self.provincial.is_none() {
            let why = "state-changing requests are disabled: no [access] token_file is configured (reload with SIGHUP instead)";
            return Err((StatusCode::FORBIDDEN, why).into_response());
        }
        if bearer(headers).is_none() && offered_token(headers).is_some() && !same_origin(headers) {
            return Err((StatusCode::FORBIDDEN, "a form posted with the login cookie must come from this site's own pages").into_response());
        }
        match self.viewer(headers, None)? {
            Viewer::Province => Ok(()),
            _ => Err(unauthorized()),
        }
    }

    /// `Ok` when the request carries the provincial token as a bearer
    /// token: for scripts' state-changing calls (`POST /-/reload`).
    pub fn may_change_state_by_bearer(&self, headers: &HeaderMap) -> Result<(), Response> {
        if self.provincial.is_some() && bearer(headers).is_none() {
            return Err(unauthorized());
        }
        self.may_change_state(headers)
    }
}

/// Whether the request names a loopback host (`Host`), so that a page of
/// another site whose name was rebound to 127.0.0.1 cannot read ours.
fn names_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a browser says the request comes from this origin's own pages.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin";
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, authority)| authority == host),
        _ => false,
    }
}

/// The bearer token of a request, if it sends one (`Bearer`, any case).
fn bearer(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::AUTHORIZATION).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
    })
}

/// The token of a request: its bearer token, else its `vbp_token` cookie.
fn offered_token(headers: &HeaderMap) -> Option<String> {
    if let Some(token) = bearer(headers) {
        return Some(token);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
        .map(|t| percent_decode(t.trim()))
}

/// The cookie's value as a browser sends it back (we set it encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A cookie value carrying `token` (every byte outside [A-Za-z0-9-_.] encoded).
pub fn cookie_value(token: &str) -> String {
    token
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"vbp-watch\"")],
        axum::response::Html(
            "<!doctype html><meta charset=utf-8><p>需要访问令牌：请先 <a href=\"/login\">登录</a>（或以 <code>Authorization: Bearer &lt;token&gt;</code> 访问接口）。</p>",
        ),
    )
        .into_response()
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
        let access = Access { provincial: Some(Token("0123456789abcdef-secret".into())), bureaus: Vec::new(), scraper: None };
        assert!(access.may_change_state(&headers("Bearer 0123456789abcdef-secret")).is_ok());
        assert!(access.may_change_state(&headers("bearer 0123456789abcdef-secret")).is_ok(), "the scheme in any case");
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
        let err = Access::load(&AccessConfig { token_file: Some(short.clone()), ..AccessConfig::default() }).unwrap_err();
        assert!(err.to_string().contains("3 characters") && err.to_string().contains(&short.display().to_string()), "{err}");
        let missing = dir.join("missing");
        assert!(matches!(Access::load(&AccessConfig { token_file: Some(missing), ..AccessConfig::default() }), Err(AccessError::Read { .. })));
        let good = dir.join("good");
        std::fs::write(&good, "  0123456789abcdef\n").unwrap();
        let access = Access::load(&AccessConfig { token_file: Some(good.clone()), ..AccessConfig::default() }).unwrap();
        assert!(access.may_change_state(&headers("Bearer 0123456789abcdef")).is_ok());
        assert!(format!("{access:?}").contains("redacted"));
        let same = AccessConfig { token_file: Some(good.clone()), bureaus: vec![BureauAccess { division_code: "610305".into(), token_file: good }], ..AccessConfig::default() };
        assert!(matches!(Access::load(&same), Err(AccessError::Shared(_))), "a bureau cannot hold the provincial token");
    }

    #[test]
    fn a_bureau_token_sees_its_division_and_a_cookie_carries_it() {
        let access = Access {
            provincial: Some(Token("province-token-0123456789".into())),
            bureaus: vec![(Token("district-token-0123456789".into()), "610305".into()), (Token("city-token-0123456789ab".into()), "610300".into())],
            scraper: Some(Token("scraper-token-0123456789".into())),
        };
        let district = access.viewer(&headers("Bearer district-token-0123456789"), None).unwrap();
        assert_eq!(district, Viewer::Bureau { division_code: "610305".into() });
        let labels = |division: &str, city: &str| -> std::collections::BTreeMap<String, String> {
            [("division_code".to_string(), division.to_string()), ("city_code".to_string(), city.to_string())].into()
        };
        assert!(district.sees_labels(&labels("610305", "610300")));
        assert!(!district.sees_labels(&labels("610302", "610300")), "another district of its city");
        assert!(!district.sees_labels(&labels("610300", "610300")), "a city's supply break");
        let city = access.viewer(&headers("Bearer city-token-0123456789ab"), None).unwrap();
        assert!(city.sees_labels(&labels("610302", "610300")) && city.sees_labels(&labels("610300", "610300")));
        assert!(!city.sees_labels(&labels("610113", "610100")));
        assert!(city.sees_division("610305") && !district.sees_division("610302"));
        let mut cookie = HeaderMap::new();
        cookie.insert(header::COOKIE, format!("a=b; {COOKIE}={}", cookie_value("district-token-0123456789")).parse().unwrap());
        assert_eq!(access.viewer(&cookie, None).unwrap(), district);
        assert!(access.may_change_state(&headers("Bearer district-token-0123456789")).is_err(), "a bureau changes nothing");
        assert_eq!(access.viewer(&headers("Bearer nobody-0123456789abcdef"), None).unwrap_err().status(), StatusCode::UNAUTHORIZED);
        let scraper = access.viewer(&headers("Bearer scraper-token-0123456789"), None).unwrap();
        assert!(scraper.reads_metrics() && !scraper.sees_labels(&labels("610305", "610300")) && !district.reads_metrics());
        let open = Access::default();
        let far: std::net::SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let near: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(open.viewer(&HeaderMap::new(), Some(far)).unwrap_err().status(), StatusCode::FORBIDDEN, "no tokens: loopback only");
        assert_eq!(open.viewer(&HeaderMap::new(), None).unwrap_err().status(), StatusCode::FORBIDDEN, "no peer: refused");
        assert_eq!(open.viewer(&HeaderMap::new(), Some(near)).unwrap(), Viewer::Local);
        let mut host = HeaderMap::new();
        host.insert(header::HOST, "127.0.0.1:9464".parse().unwrap());
        assert_eq!(open.viewer(&host, Some(near)).unwrap(), Viewer::Local);
        host.insert(header::HOST, "evil.example.com:9464".parse().unwrap());
        assert_eq!(open.viewer(&host, Some(near)).unwrap_err().status(), StatusCode::FORBIDDEN, "a rebound name is refused");
    }

    #[test]
    fn a_form_posted_with_the_cookie_from_another_site_changes_nothing() {
        let access = Access { provincial: Some(Token("province-token-0123456789".into())), bureaus: Vec::new(), scraper: None };
        let form = |site: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, format!("{COOKIE}=province-token-0123456789").parse().unwrap());
            h.insert(header::HOST, "127.0.0.1:9464".parse().unwrap());
            if let Some(site) = site {
                h.insert("sec-fetch-site", site.parse().unwrap());
            }
            h
        };
        assert!(access.may_change_state(&form(Some("same-origin"))).is_ok());
        for other in [Some("same-site"), Some("cross-site"), None] {
            assert_eq!(access.may_change_state(&form(other)).unwrap_err().status(), StatusCode::FORBIDDEN, "{other:?}");
        }
        let mut origin = form(None);
        origin.insert(header::ORIGIN, "http://127.0.0.1:9464".parse().unwrap());
        assert!(access.may_change_state(&origin).is_ok(), "an Origin naming this host");
        assert_eq!(access.may_change_state_by_bearer(&form(Some("same-origin"))).unwrap_err().status(), StatusCode::UNAUTHORIZED, "reload: bearer only");
        assert!(access.may_change_state_by_bearer(&headers("Bearer province-token-0123456789")).is_ok());
    }
}
