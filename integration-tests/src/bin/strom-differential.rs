//! `strom-differential --kafka HOST:PORT [--strom HOST:PORT] [--known FILE] [--report FILE]`:
//! the same conversation with Apache Kafka and with Strom (an in-process broker on a fresh
//! data directory unless `--strom` names one), compared field by field. Prints the report
//! (markdown) and exits 1 when a difference is not on the known list or an API Strom
//! serves goes unused.

use std::process::ExitCode;

use strom_integration_tests::differential::{parse_known, run};
use strom_integration_tests::TestBroker;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(kafka) = arg("--kafka") else {
        eprintln!("usage: strom-differential --kafka HOST:PORT [--strom HOST:PORT] [--known FILE] [--report FILE]");
        return ExitCode::from(2);
    };
    let known = match arg("--known").map(std::fs::read_to_string).transpose() {
        Ok(text) => parse_known(&text.unwrap_or_default()),
        Err(e) => {
            eprintln!("known-differences file: {e}");
            return ExitCode::from(2);
        }
    };
    let local = match arg("--strom") {
        Some(_) => None,
        None => Some(TestBroker::start().await),
    };
    let strom = arg("--strom").unwrap_or_else(|| {
        local
            .as_ref()
            .map(TestBroker::bootstrap)
            .unwrap_or_default()
    });
    let report = match run(&kafka, &strom, &known).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("strom-differential: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(b) = local {
        b.stop().await;
    }
    let text = report.markdown();
    if let Some(path) = arg("--report") {
        if let Err(e) = std::fs::write(&path, &text) {
            eprintln!("{path}: {e}");
        }
    }
    println!("{text}");
    if !report.passed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
