//! One conversation with one broker: typed requests at the version both brokers share, each
//! answer kept as a tree under a label for the comparison.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::{Buf, Bytes};
use strom_codec::kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ResponseHeader,
};
use strom_codec::kafka_protocol::protocol::{Decodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tree::Tree;

/// How long one answer may take (Fetch long polls are kept short by the scenario).
const ANSWER: Duration = Duration::from_secs(30);
/// The largest answer the harness reads.
const MAX_ANSWER: usize = 64 << 20;

/// Version ranges per API key.
pub type Versions = BTreeMap<i16, (i16, i16)>;

/// One request and its answer.
#[derive(Debug)]
pub struct Exchange {
    pub label: String,
    pub api: i16,
    pub version: i16,
    pub answer: Result<Tree, String>,
}

pub struct Session {
    addr: String,
    stream: TcpStream,
    correlation: i32,
    /// The versions both brokers (and the codec) serve.
    common: Versions,
    pub log: Vec<Exchange>,
}

impl Session {
    pub async fn connect(addr: &str, common: Versions) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr: addr.to_owned(),
            stream,
            correlation: 0,
            common,
            log: Vec::new(),
        })
    }

    /// The versions `addr` serves, as its ApiVersions v3 answer says.
    pub async fn versions_of(addr: &str) -> anyhow::Result<Versions> {
        let mut s = Self::connect(addr, Versions::new()).await?;
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("strom-differential"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let resp: ApiVersionsResponse = s.send(&req, 3).await?;
        if resp.error_code != 0 {
            bail!("ApiVersions error {}", resp.error_code);
        }
        Ok(resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect())
    }

    /// The highest version of `R` both brokers serve.
    pub fn version<R: Request>(&self) -> Option<i16> {
        self.common.get(&R::KEY).map(|&(_, max)| max)
    }

    /// Every version of `R` both brokers serve.
    pub fn all_versions<R: Request>(&self) -> Vec<i16> {
        self.common
            .get(&R::KEY)
            .map(|&(min, max)| (min..=max).collect())
            .unwrap_or_default()
    }

    /// Sends `req` at the highest common version and records the answer under `label`.
    pub async fn ask<R>(&mut self, label: &str, req: R) -> Option<R::Response>
    where
        R: Request,
        R::Response: Debug,
    {
        let v = self.version::<R>()?;
        self.ask_at(label, v, req).await
    }

    /// Sends `req` at `version` and records the answer under `label`.
    pub async fn ask_at<R>(&mut self, label: &str, version: i16, req: R) -> Option<R::Response>
    where
        R: Request,
        R::Response: Debug,
    {
        let answer = self.send::<R>(&req, version).await;
        self.record(
            label,
            R::KEY,
            version,
            answer.as_ref().map(|r| format!("{r:?}")),
        );
        answer.ok()
    }

    /// Sends `req` at `version` and records the answer, as `shown` makes it, under `label`.
    pub async fn ask_with<R>(
        &mut self,
        label: &str,
        version: i16,
        req: R,
        shown: impl FnOnce(R::Response) -> R::Response,
    ) where
        R: Request,
        R::Response: Debug,
    {
        let answer = self.send::<R>(&req, version).await.map(shown);
        self.record(
            label,
            R::KEY,
            version,
            answer.as_ref().map(|r| format!("{r:?}")),
        );
    }

    fn record(
        &mut self,
        label: &str,
        api: i16,
        version: i16,
        debug: Result<String, &anyhow::Error>,
    ) {
        let tree = match debug {
            Ok(text) => Tree::parse(&text).map(Tree::normalise),
            Err(e) => Err(format!("{e:#}")),
        };
        if std::env::var("DIFF_SHOW").is_ok_and(|l| l == label) {
            eprintln!("{} {label}: {tree:?}", self.addr);
        }
        self.log.push(Exchange {
            label: label.to_owned(),
            api,
            version,
            answer: tree,
        });
    }

    /// Sends `req` at the highest common version, unrecorded, until `done` holds for its
    /// answer (at most 150 tries 200 ms apart): for waiting until a broker is ready.
    pub async fn wait_until<R: Request>(&mut self, req: &R, done: impl Fn(&R::Response) -> bool) {
        let Some(v) = self.version::<R>() else {
            return;
        };
        for _ in 0..150 {
            if self.send(req, v).await.is_ok_and(|r| done(&r)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One request and its answer; a failed exchange reconnects for the next one.
    async fn send<R: Request>(&mut self, req: &R, version: i16) -> anyhow::Result<R::Response> {
        let answer = self.exchange(req, version).await;
        if answer.is_err() {
            if let Ok(fresh) = TcpStream::connect(&self.addr).await {
                self.stream = fresh;
            }
        }
        answer
    }

    async fn exchange<R: Request>(&mut self, req: &R, version: i16) -> anyhow::Result<R::Response> {
        self.correlation += 1;
        let api = ApiKey::try_from(R::KEY).map_err(|()| anyhow::anyhow!("api key {}", R::KEY))?;
        let out = strom_codec::client::request_frame(
            api,
            version,
            self.correlation,
            "strom-differential",
            |out| req.encode(out, version),
        )
        .map_err(anyhow::Error::msg)?;
        self.stream.write_all(&out).await?;
        let mut frame = tokio::time::timeout(ANSWER, self.read_frame())
            .await
            .context("no answer in time")??;
        let header_version = strom_codec::header::response_header_version(api, version);
        let header = ResponseHeader::decode(&mut frame, header_version)?;
        if header.correlation_id != self.correlation {
            bail!(
                "correlation {} for {}",
                header.correlation_id,
                self.correlation
            );
        }
        let resp = R::Response::decode(&mut frame, version)?;
        if frame.has_remaining() {
            bail!("{} bytes left after the answer", frame.remaining());
        }
        Ok(resp)
    }

    async fn read_frame(&mut self) -> anyhow::Result<Bytes> {
        let len = self.stream.read_i32().await.context("connection closed")?;
        let len = usize::try_from(len).context("negative length")?;
        if len > MAX_ANSWER {
            bail!("answer of {len} bytes");
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await?;
        Ok(Bytes::from(body))
    }
}
