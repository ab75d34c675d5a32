//! Alertmanager's silences (API v2): how an acknowledgement stops the rota
//! being paged for an incident. Alertmanager's maintainers keep
//! acknowledgement itself out of scope (prometheus/alertmanager#1860);
//! a silence matching the incident's labels, created by the person who
//! acknowledged it, is the tool.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use url::Url;

/// What Alertmanager did not do, and why.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("Alertmanager at {url} did not answer: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Alertmanager at {url} answered {status}: {body}")]
    Refused { url: String, status: u16, body: String },
}

/// A client of one Alertmanager's silences.
#[derive(Debug, Clone)]
pub struct Silences {
    client: reqwest::Client,
    base: String,
}

/// One silence's matchers: labels that must equal these values.
pub type Matchers = Vec<(String, String)>;

impl Silences {
    pub fn new(alertmanager: &Url) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Silences { client, base: alertmanager.as_str().trim_end_matches('/').to_string() }
    }

    /// Creates a silence; returns its id.
    pub async fn create(&self, matchers: &Matchers, until: DateTime<Utc>, created_by: &str, comment: &str) -> Result<String, SilenceError> {
        let url = format!("{}/api/v2/silences", self.base);
        let body = json!({
            "matchers": matchers.iter().map(|(name, value)| json!({"name": name, "value": value, "isRegex": false, "isEqual": true})).collect::<Vec<_>>(),
            "startsAt": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "endsAt": until.to_rfc3339_opts(SecondsFormat::Millis, true),
            "createdBy": created_by,
            "comment": comment,
        });
        let response = self.client.post(&url).json(&body).send().await.map_err(|source| SilenceError::Unreachable { url: url.clone(), source })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(SilenceError::Refused { url, status: status.as_u16(), body: text });
        }
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        answer["silenceID"]
            .as_str()
            .map(str::to_string)
            .ok_or(SilenceError::Refused { url, status: status.as_u16(), body: format!("no silenceID in {text}") })
    }

    /// Expires a silence now. One already expired, or gone after an
    /// Alertmanager restart without storage, is no error: it silences nothing.
    pub async fn expire(&self, id: &str) -> Result<(), SilenceError> {
        let url = format!("{}/api/v2/silence/{id}", self.base);
        let response = self.client.delete(&url).send().await.map_err(|source| SilenceError::Unreachable { url: url.clone(), source })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let gone = status.as_u16() == 404 || body.contains("already expired");
        if status.is_success() || gone {
            Ok(())
        } else {
            Err(SilenceError::Refused { url, status: status.as_u16(), body })
        }
    }
}
