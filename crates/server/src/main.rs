//! `strom`: a Kafka-compatible broker. With no arguments it serves on port 9092 with data in
//! `./data`; see `strom --help` and `config/strom.toml`. `strom topics …` and
//! `strom groups …` are admin commands against any Kafka-compatible broker.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use strom_server::{Broker, Config};

#[derive(Debug, Parser)]
#[command(
    name = "strom",
    version,
    about = "A Kafka wire-compatible broker in one small binary"
)]
struct Args {
    /// TOML config file (Kafka key names, e.g. `log.dirs`, `num.partitions`).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Address to listen on, host:port (port 0 picks a free port and prints it).
    #[arg(long)]
    listen: Option<String>,
    /// host:port clients are told to connect to (Kafka's `advertised.listeners`).
    #[arg(long)]
    advertised: Option<String>,
    /// Data directory (Kafka's `log.dirs`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Use a temporary data directory, removed on exit (for tests and CI).
    #[arg(long)]
    ephemeral: bool,
    /// Any config key, `key=value`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Log lines on stderr: `text` (coloured only on a terminal, and never with NO_COLOR
    /// set) or `json` (one object per line, for log shippers). Levels: RUST_LOG.
    #[arg(long, value_enum, env = "STROM_LOG_FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Admin commands (without one, strom runs the broker).
    #[command(subcommand)]
    command: Option<strom_cli::Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            logs.with_ansi(colour).init();
        }
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
}

fn config_from(args: &Args) -> Result<Config, String> {
    let mut config = Config::default();
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        config
            .apply_toml(&text, &path.display().to_string())
            .map_err(|e| e.to_string())?;
    }
    config
        .apply_env(std::env::vars())
        .map_err(|e| format!("{e} (from a STROM_* variable)"))?;
    if let Some(listen) = &args.listen {
        config.set("listeners", listen).map_err(|e| e.to_string())?;
    }
    if let Some(advertised) = &args.advertised {
        config
            .set("advertised.listeners", advertised)
            .map_err(|e| e.to_string())?;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir.clone_from(dir);
    }
    if args.ephemeral {
        config.ephemeral = true;
    }
    for kv in &args.overrides {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--set expects KEY=VALUE, got `{kv}`"))?;
        config.set(k.trim(), v.trim()).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    init_logs(args.log_format);
    if let Some(command) = args.command.take() {
        return match strom_cli::run(command) {
            Ok(text) => {
                if !text.is_empty() {
                    println!("{text}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("strom: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match config_from(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strom: {e}");
            return ExitCode::from(2);
        }
    };
    // Bind before anything else starts, so that a client connecting during start-up is
    // queued, not refused (and so back off).
    let listener = match Broker::bind(&config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("strom: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strom: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // The handlers are in place before the "listening" line: a SIGTERM sent as soon as a
        // script reads it shuts the broker down cleanly instead of killing it.
        let signals = Signals::install();
        let broker = match Broker::start_on(config, listener).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("strom: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Tests and scripts read this line to learn the port chosen for --listen host:0.
        println!("strom listening on {}", broker.local_addr());
        signals.wait().await;
        broker.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// SIGTERM and SIGINT, listened for from the moment they are installed.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for {name}");
                None
            }
        };
        Self {
            term: listen(SignalKind::terminate(), "SIGTERM"),
            int: listen(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Returns at the first SIGTERM or SIGINT (never, if neither could be listened for).
    async fn wait(mut self) {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => tracing::info!("SIGINT: shutting down"),
            () = next(&mut self.term) => tracing::info!("SIGTERM: shutting down"),
        }
    }
}
