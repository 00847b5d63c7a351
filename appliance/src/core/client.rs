//! The CLI's HTTP client: finds the daemon (`--api`, or `<data-dir>/api.addr`) and its
//! token (`--token`, or `<data-dir>/token`), and sends typed [`Endpoint`] calls: the path
//! comes from the endpoint's template, the body and the reply are its types.

use super::endpoint::{fill_path, has_body, Endpoint, Method};
use anyhow::{anyhow, Context};
use parking_lot::Mutex;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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

/// A request as the client would send it (kept by a recording client).
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// The method.
    pub method: Method,
    /// The route template it was built from.
    pub template: &'static str,
    /// The concrete path below `/api/v1`.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<serde_json::Value>,
}

#[derive(Debug)]
enum Transport {
    Http {
        base: String,
        token: String,
        agent: ureq::Agent,
    },
    /// Records requests instead of sending them (tests of the CLI).
    Record(Arc<Mutex<Vec<SentRequest>>>),
}

/// A connection to the daemon's API.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
}

/// What a recording client's calls fail with.
#[derive(Debug, thiserror::Error)]
#[error("recorded, not sent")]
pub struct Recorded;

fn read_trimmed(p: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(p).map(|s| s.trim().to_owned())
}

impl Client {
    /// Finds the daemon and its token from the flags or the data directory.
    pub fn new(data_dir: &Path, api: Option<&str>, token: Option<&str>) -> anyhow::Result<Client> {
        let addr = match api {
            Some(a) => a.to_owned(),
            None => {
                let p = super::files::addr_path(data_dir);
                read_trimmed(&p).map_err(|_| {
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
                let p = super::token::path(data_dir);
                read_trimmed(&p).map_err(|e| {
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
        Ok(Client {
            transport: Transport::Http { base, token, agent },
        })
    }

    /// A client that records its requests instead of sending them; every call fails with
    /// [`Recorded`].
    pub fn recording() -> (Client, Arc<Mutex<Vec<SentRequest>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (
            Client {
                transport: Transport::Record(log.clone()),
            },
            log,
        )
    }

    /// Calls `E` with these path parameters and body; returns its reply or the API's
    /// error ([`ApiFailure`]).
    pub fn call<E: Endpoint>(
        &self,
        params: &E::Params,
        body: &E::Body,
    ) -> anyhow::Result<E::Reply> {
        let path = fill_path::<E>(params).map_err(|e| anyhow!("{}", e.message))?;
        let body = if has_body::<E>() {
            Some(serde_json::to_value(body).context("encoding the request")?)
        } else {
            None
        };
        let (base, token, agent) = match &self.transport {
            Transport::Record(log) => {
                log.lock().push(SentRequest {
                    method: E::METHOD,
                    template: E::PATH,
                    path,
                    body,
                });
                return Err(Recorded.into());
            }
            Transport::Http { base, token, agent } => (base, token, agent),
        };
        let url = format!("{base}/api/v1{path}");
        let auth = format!("Bearer {token}");
        let result = match (E::METHOD, &body) {
            (Method::Get, _) => agent.get(&url).header("Authorization", &auth).call(),
            (Method::Delete, None) => agent.delete(&url).header("Authorization", &auth).call(),
            (Method::Delete, Some(b)) => agent
                .delete(&url)
                .header("Authorization", &auth)
                .force_send_body()
                .send_json(b),
            (Method::Post, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
            (Method::Post, Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
            (Method::Put, b) => agent.put(&url).header("Authorization", &auth).send_json(b),
            (Method::Patch, b) => agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(b),
        };
        let mut resp = result.with_context(|| {
            format!("cannot reach the vsa daemon at {base}: is `vsa serve` running?")
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .context("reading the daemon's answer")?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text).with_context(|| {
                format!("the daemon's answer to {} {path} is not what this vsa expects (is the daemon another version?): {text}", E::METHOD.as_str())
            });
        }
        let failure = match serde_json::from_str::<super::error::ErrorBody>(&text) {
            Ok(b) => ApiFailure {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => ApiFailure {
                status,
                code: "unknown".into(),
                message: format!("the daemon answered HTTP {status}: {text}"),
            },
        };
        Err(failure.into())
    }
}

/// What a component's noun needs to talk to the daemon and print.
#[derive(Debug)]
pub struct CliCtx {
    /// The client.
    pub client: Client,
    /// JSON output.
    pub json: bool,
}

impl CliCtx {
    /// Prints `v` as JSON (with `--json`) or with `human`.
    pub fn print<T: serde::Serialize>(&self, v: &T, human: impl FnOnce(&T)) {
        if self.json {
            super::output::json(v);
        } else {
            human(v);
        }
    }
}
