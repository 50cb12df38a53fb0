//! A client of the admin API, for the `ehealth-sim admin` subcommands and for tests.
//!
//! It talks plain HTTP to a loopback address only, and returns the JSON each route sends.

use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;

use super::ADMIN_PREFIX;

/// Errors of calling the admin API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "invalid admin address {0}: the simulator's admin API listens on loopback only; use 127.0.0.1:PORT"
    )]
    NotLoopback(SocketAddr),
    #[error("building the HTTP client failed: {0}")]
    Build(reqwest::Error),
    #[error("calling {url} failed: {source}; is `ehealth-sim serve --admin` running there?")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered HTTP {status}: {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },
}

/// An admin API client bound to one simulator.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
}

impl AdminClient {
    /// Creates a client of the admin API at `address`, which must be a loopback address.
    pub fn new(address: SocketAddr) -> Result<Self, ClientError> {
        if !address.ip().is_loopback() {
            return Err(ClientError::NotLoopback(address));
        }
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self {
            http,
            base: format!("http://{address}{ADMIN_PREFIX}"),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.call(reqwest::Method::GET, path, None::<&()>).await
    }

    pub async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, ClientError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &impl Serialize) -> Result<Value, ClientError> {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.call(reqwest::Method::DELETE, path, None::<&()>).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let http_error = |source| ClientError::Http {
            url: url.clone(),
            source,
        };
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            // Serialising the admin request types cannot fail: they hold strings and numbers only.
            let json = serde_json::to_vec(body).unwrap_or_default();
            request = request
                .header("Content-Type", "application/json")
                .body(json);
        }

        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let text = response.text().await.map_err(http_error)?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(value);
        }
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map_or_else(|| value.to_string(), str::to_owned);
        Err(ClientError::Rejected {
            url,
            status: status.as_u16(),
            message,
        })
    }
}
