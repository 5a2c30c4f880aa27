//! The README's API table is the handler table, line for line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use strom_server::handlers::api_versions;

#[test]
fn readme_api_table_matches_the_versions_table() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("<!-- api-table:start -->")
        .expect("start marker");
    let end = readme.find("<!-- api-table:end -->").expect("end marker");
    let rows: Vec<(String, i16, String)> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| API"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].to_string(),
                cells[1].parse().unwrap(),
                cells[2].to_string(),
            )
        })
        .collect();
    let table = api_versions(true);
    assert_eq!(
        rows.len(),
        table.len(),
        "README lists {} APIs, the table {}",
        rows.len(),
        table.len()
    );
    for (row, s) in rows.iter().zip(&table) {
        let key = strom_codec::ApiKey::try_from(s.api_key).unwrap();
        assert_eq!(row.0, format!("{key:?}"));
        assert_eq!(row.1, s.api_key);
        let versions = if s.min_version == s.max_version {
            s.min_version.to_string()
        } else {
            format!("{}–{}", s.min_version, s.max_version)
        };
        let stated = row.2.split_whitespace().next().unwrap_or_default();
        assert_eq!(stated, versions, "{key:?}: README says {}", row.2);
    }
}
