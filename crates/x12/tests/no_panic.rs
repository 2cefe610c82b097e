//! Inputs that once crashed, hung or blew up the x12 crate (found by `fuzz/run.sh`): each must
//! now get a verdict. Files live in `tests/data/fuzz-regressions/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

#[test]
fn fuzz_regressions_get_a_verdict() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions folder") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|f| f.to_string_lossy().starts_with('.')) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read regression");
        let _ = x12::check_270(&bytes, &x12::Rules::default());
        let _ = x12::check_271(&bytes);
        for _ in x12::tokenize(&bytes, x12::Delimiters::default()) {}
        n += 1;
    }
    eprintln!("{n} fuzz regressions replayed");
}
