#[test]
fn cms_sample_is_valid() {
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/x12/valid/cms-sample.x12")).unwrap();
    assert!(x12::check_270(&bytes, &x12::Rules::default()).is_accepted());
}
