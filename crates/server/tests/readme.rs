//! The README's API table is the versions table, line for line.

use strom_codec::versions::SUPPORTED;

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
    assert_eq!(
        rows.len(),
        SUPPORTED.len(),
        "README lists {} APIs, the table {}",
        rows.len(),
        SUPPORTED.len()
    );
    for (row, s) in rows.iter().zip(SUPPORTED) {
        assert_eq!(row.0, format!("{:?}", s.api_key));
        assert_eq!(row.1, s.api_key as i16);
        let versions = if s.min == s.max {
            s.min.to_string()
        } else {
            format!("{}–{}", s.min, s.max)
        };
        let stated = row.2.split_whitespace().next().unwrap_or_default();
        assert_eq!(stated, versions, "{:?}: README says {}", s.api_key, row.2);
    }
}
