#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use eligibility::Personas;

#[test]
fn the_demo_dataset_loads_as_it_is() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    let p = Personas::from_toml(&text).unwrap();
    assert_eq!(p.meta.reference_date, x12::Date::new(2026, 11, 16).unwrap());
    assert_eq!(p.beneficiaries.len(), 16);
    assert_eq!(p.providers.len(), 10);
    assert_eq!(p.submitters.len(), 4);
    let ma = p.beneficiary("medicare-advantage").unwrap();
    assert_eq!(ma.medicare_advantage[0].phone.as_deref(), Some("8005550101"));
    assert_eq!(p.beneficiary("msp-working-aged").unwrap().msp[0].msp_type, "12");
    for b in &p.beneficiaries {
        assert!(eligibility::ids::is_valid_mbi(b.mbi.as_bytes()), "{}", b.key);
    }
    for pr in &p.providers {
        assert!(eligibility::ids::is_valid_npi(pr.npi.as_bytes()), "{}", pr.npi);
    }
}
