//! The differential harness: the same conversation with Apache Kafka and with Strom, their
//! answers compared field by field (ids, clocks, addresses and free-text messages left out,
//! list orders Kafka leaves free ignored), each difference checked against the list of
//! known, deliberate ones.

pub mod scenario;
pub mod session;
pub mod tree;

use std::fmt::Write as _;

use strom_codec::kafka_protocol::messages::ApiKey;

use session::{Exchange, Session, Versions};
use tree::{diff, Difference};

/// One exchange whose answers differ.
#[derive(Debug)]
pub struct Finding {
    pub label: String,
    pub api: i16,
    pub version: i16,
    pub differences: Vec<(Difference, bool)>,
}

/// The outcome of one run.
#[derive(Debug, Default)]
pub struct Report {
    pub exchanges: usize,
    pub identical: usize,
    pub findings: Vec<Finding>,
    /// Known-difference patterns that matched nothing.
    pub stale: Vec<String>,
    /// APIs Strom serves that no exchange used.
    pub not_exercised: Vec<String>,
}

impl Report {
    /// Whether the run passes: every difference known and every API Strom serves used.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.new_differences() == 0 && self.not_exercised.is_empty()
    }

    /// Differences not on the known list.
    #[must_use]
    pub fn new_differences(&self) -> usize {
        self.findings
            .iter()
            .flat_map(|f| &f.differences)
            .filter(|(_, known)| !known)
            .count()
    }

    /// The report as markdown.
    #[must_use]
    pub fn markdown(&self) -> String {
        let total: usize = self.findings.iter().map(|f| f.differences.len()).sum();
        let mut out = format!(
            "# Strom vs Apache Kafka\n\n{} exchanges, {} answered identically; {} differences in {} exchanges, {} of them not on the known list; {} APIs Strom serves not exercised.\n",
            self.exchanges,
            self.identical,
            total,
            self.findings.len(),
            self.new_differences(),
            self.not_exercised.len()
        );
        for f in &self.findings {
            let api =
                ApiKey::try_from(f.api).map_or_else(|()| f.api.to_string(), |k| format!("{k:?}"));
            let _ = write!(
                out,
                "\n## {} ({api} v{})\n\n| path | Kafka | Strom | |\n|---|---|---|---|\n",
                f.label, f.version
            );
            for (d, known) in &f.differences {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} |",
                    cell(&d.path),
                    cell(&d.kafka),
                    cell(&d.strom),
                    if *known { "known" } else { "**new**" }
                );
            }
        }
        if !self.not_exercised.is_empty() {
            out.push_str("\n## APIs Strom serves that the conversation does not use\n\n");
            for a in &self.not_exercised {
                let _ = writeln!(out, "- {a}");
            }
        }
        if !self.stale.is_empty() {
            out.push_str("\n## Known differences that no longer occur\n\n");
            for p in &self.stale {
                let _ = writeln!(out, "- `{p}`");
            }
        }
        out
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The versions both brokers and the codec serve.
///
/// # Errors
/// Either broker does not answer ApiVersions.
pub async fn common_versions(kafka: &str, strom: &str) -> anyhow::Result<Versions> {
    let k = Session::versions_of(kafka).await?;
    let s = Session::versions_of(strom).await?;
    Ok(k.iter()
        .filter_map(|(&api, &(kmin, kmax))| {
            let &(smin, smax) = s.get(&api)?;
            let codec = ApiKey::try_from(api).ok()?.valid_versions();
            let (min, max) = (kmin.max(smin).max(codec.min), kmax.min(smax).min(codec.max));
            (min <= max).then_some((api, (min, max)))
        })
        .collect())
}

/// Runs the conversation against both brokers and compares; `known` holds glob patterns
/// (`*` matches anything) over `label: path` of accepted differences.
///
/// # Errors
/// A broker cannot be reached.
pub async fn run(kafka: &str, strom: &str, known: &[String]) -> anyhow::Result<Report> {
    let common = common_versions(kafka, strom).await?;
    let served = Session::versions_of(strom).await?;
    let mut k = Session::connect(kafka, common.clone()).await?;
    scenario::run(&mut k).await;
    let mut s = Session::connect(strom, common).await?;
    scenario::run(&mut s).await;
    let mut report = compare(&k.log, &s.log, known);
    report.not_exercised = served
        .keys()
        .filter(|api| !s.log.iter().any(|e| e.api == **api))
        .map(|&api| ApiKey::try_from(api).map_or_else(|()| api.to_string(), |k| format!("{k:?}")))
        .collect();
    Ok(report)
}

/// Compares two logs of the same conversation.
#[must_use]
pub fn compare(kafka: &[Exchange], strom: &[Exchange], known: &[String]) -> Report {
    let mut report = Report::default();
    let mut used = vec![false; known.len()];
    for (k, s) in kafka.iter().zip(strom) {
        report.exchanges += 1;
        let mut diffs = Vec::new();
        match (&k.answer, &s.answer) {
            (Ok(kt), Ok(st)) => diff("", kt, st, &mut diffs),
            (Err(_), Err(_)) => {}
            (ka, sa) => diffs.push(Difference {
                path: "(answer)".into(),
                kafka: ka.as_ref().map_or_else(Clone::clone, |_| "answered".into()),
                strom: sa.as_ref().map_or_else(Clone::clone, |_| "answered".into()),
            }),
        }
        if diffs.is_empty() {
            report.identical += 1;
            continue;
        }
        let differences = diffs
            .into_iter()
            .map(|d| {
                let signature = format!("{}: {}", k.label, d.path);
                let hit = known.iter().position(|p| glob(p, &signature));
                if let Some(i) = hit {
                    if let Some(u) = used.get_mut(i) {
                        *u = true;
                    }
                }
                (d, hit.is_some())
            })
            .collect();
        report.findings.push(Finding {
            label: k.label.clone(),
            api: k.api,
            version: k.version,
            differences,
        });
    }
    report.stale = known
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(p, _)| p.clone())
        .collect();
    report
}

/// Patterns from a known-differences file: one per line, `#` starts a comment.
#[must_use]
pub fn parse_known(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `*` matches any run of characters; everything else matches itself.
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for mid in parts.iter().skip(1).take(parts.len() - 2) {
        match rest.find(mid) {
            Some(i) => rest = rest.get(i + mid.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("a*c", "abc"));
        assert!(glob("a*", "a"));
        assert!(glob("*x*y", "1x2y"));
        assert!(!glob("a*c", "ab"));
        assert!(!glob("abc", "abcd"));
        assert!(glob(
            "fetch v*: .responses[*].error_code",
            "fetch v12: .responses[topic=\"t\"].error_code"
        ));
        assert_eq!(
            parse_known("# c\n a: b  # why\n\n"),
            vec!["a: b".to_owned()]
        );
    }
}
