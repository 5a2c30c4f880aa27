//! A small blocking Kafka client for the CLI: one connection per broker, versions negotiated
//! with ApiVersions (the highest both sides know), requests and responses through the
//! vendored `kafka-protocol` types. It talks to any Kafka-compatible broker.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use strom_codec::kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestKind, ResponseHeader,
};
use strom_codec::kafka_protocol::protocol::{Decodable, StrBytes};

/// Largest response the CLI accepts.
const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(30);

pub type Result<T> = std::result::Result<T, String>;

pub struct Client {
    stream: TcpStream,
    address: String,
    correlation: i32,
    /// api key -> (min, max) the broker serves.
    versions: HashMap<i16, (i16, i16)>,
}

impl Client {
    pub fn connect(address: &str) -> Result<Self> {
        let stream = TcpStream::connect(address)
            .map_err(|e| format!("cannot connect to {address}: {e} (is the broker running? check --bootstrap-server)"))?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).ok();
        stream.set_write_timeout(Some(IO_TIMEOUT)).ok();
        stream.set_nodelay(true).ok();
        let mut client = Self {
            stream,
            address: address.to_string(),
            correlation: 0,
            versions: HashMap::new(),
        };
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("strom-cli"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let response: ApiVersionsResponse =
            client.send(ApiKey::ApiVersions, 3, RequestKind::ApiVersions(request))?;
        if response.error_code != 0 {
            return Err(format!(
                "{address} refused ApiVersions (error {})",
                response.error_code
            ));
        }
        client.versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(client)
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// The highest version of `api` both the broker and this client (up to `ours`) speak.
    pub fn version(&self, api: ApiKey, ours: i16) -> Result<i16> {
        let lib = api.valid_versions();
        let (min, max) = self
            .versions
            .get(&(api as i16))
            .copied()
            .ok_or_else(|| format!("{} does not support {api:?}", self.address))?;
        let v = max.min(ours).min(lib.max);
        if v < min.max(lib.min) {
            return Err(format!(
                "{} serves {api:?} v{min}-v{max}, this tool speaks up to v{ours}",
                self.address
            ));
        }
        Ok(v)
    }

    /// Sends `body` as `api` at the negotiated version (at most `ours`) and decodes the answer.
    pub fn call<R: Decodable>(
        &mut self,
        api: ApiKey,
        ours: i16,
        body: impl FnOnce(i16) -> RequestKind,
    ) -> Result<R> {
        let version = self.version(api, ours)?;
        self.send(api, version, body(version))
    }

    fn send<R: Decodable>(&mut self, api: ApiKey, version: i16, body: RequestKind) -> Result<R> {
        self.correlation += 1;
        let out = strom_codec::client::request_frame(
            api,
            version,
            self.correlation,
            "strom-cli",
            |out| body.encode(out, version),
        )?;
        let io = |e: std::io::Error| format!("{}: {e}", self.address);
        self.stream.write_all(&out).map_err(io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(io)?;
        let len = usize::try_from(i32::from_be_bytes(len))
            .ok()
            .filter(|n| *n <= RESPONSE_BYTES_MAX)
            .ok_or_else(|| format!("{}: bad response length", self.address))?;
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).map_err(io)?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(
            &mut buf,
            strom_codec::header::response_header_version(api, version),
        )
        .map_err(|e| format!("bad {api:?} response header: {e}"))?;
        if header.correlation_id != self.correlation {
            return Err(format!("{}: response out of order", self.address));
        }
        R::decode(&mut buf, version).map_err(|e| format!("bad {api:?} v{version} response: {e}"))
    }
}

/// Kafka's name for an error code, for messages.
pub fn error_name(code: i16) -> String {
    strom_codec::ErrorCode::try_from_code(code)
        .map_or_else(|| format!("error {code}"), |e| format!("{e:?} ({code})"))
}

/// `Ok` for code 0, else an error naming the code and the broker's message.
pub fn check(code: i16, message: Option<&StrBytes>, what: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let detail = message
        .map(|m| format!(": {}", m.as_str()))
        .unwrap_or_default();
    Err(format!("{what} failed with {}{detail}", error_name(code)))
}

/// Left-aligned columns, as the Kafka console tools print them.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.len());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0) + 1))
            .collect::<String>()
            .trim_end()
            .to_string()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
