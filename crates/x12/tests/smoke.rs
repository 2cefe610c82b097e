//! The valid corpus: every file under `tests/data/x12/valid/` is accepted, and goes to the
//! external judge.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

#[test]
fn every_valid_file_is_accepted() {
    let mut n = 0;
    for entry in std::fs::read_dir(support::data_dir().join("valid")).expect("valid corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "x12") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let accepted = match x12::transaction_set_id(&bytes).as_deref() {
            Some("271") => x12::check_271(&bytes).is_accepted(),
            _ => x12::check_270(&bytes, &x12::Rules::default()).is_accepted(),
        };
        assert!(accepted, "{name} is rejected");
        support::conformance(&format!("valid-{name}"), &bytes);
        n += 1;
    }
    assert!(n >= 2);
}
