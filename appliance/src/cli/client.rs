//! The CLI's HTTP client: finds the daemon (`--api`, or `<data-dir>/api.addr`) and its
//! token (`--token`, or `<data-dir>/token`), and sends [`Action`]s.

use crate::action::Action;
use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A connection to the daemon's API.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// An error answer from the API.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl Client {
    /// Finds the daemon and its token from the flags or the data directory.
    pub fn new(data_dir: &Path, api: Option<&str>, token: Option<&str>) -> anyhow::Result<Client> {
        let addr = match api {
            Some(a) => a.to_owned(),
            None => {
                let p = crate::serve::addr_path(data_dir);
                std::fs::read_to_string(&p)
                    .map(|s| s.trim().to_owned())
                    .map_err(|_| {
                        anyhow!(
                            "cannot find the daemon's address in {}: is `vsa serve --data-dir {}` running? Otherwise pass --api ADDR:PORT",
                            p.display(),
                            data_dir.display()
                        )
                    })?
            }
        };
        let token = match token {
            Some(t) => t.to_owned(),
            None => {
                let p = crate::token::path(data_dir);
                std::fs::read_to_string(&p)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| {
                        anyhow!(
                            "cannot read the API token {}: {e}; pass --token or --data-dir",
                            p.display()
                        )
                    })?
            }
        };
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_owned()
        } else {
            format!("http://{addr}")
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client { base, token, agent })
    }

    /// Sends `action`; returns the JSON answer or the API's error.
    pub fn call(&self, action: &Action) -> anyhow::Result<Value> {
        let req = action.request();
        let url = format!("{}/api/v1{}", self.base, req.path);
        let auth = format!("Bearer {}", self.token);
        let result = match (req.method, &req.body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(b),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(b),
            ("POST", None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
            (m, _) => bail!("internal error: no way to send {m} {url}"),
        };
        let mut resp = result.with_context(|| {
            format!(
                "cannot reach the vsa daemon at {}: is `vsa serve` running?",
                self.base
            )
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .context("reading the daemon's answer")?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let code = value["error"]["code"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        let message = value["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the daemon answered HTTP {status}: {value}"));
        Err(ApiFailure {
            status,
            code,
            message,
        }
        .into())
    }
}
