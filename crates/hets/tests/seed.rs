//! `hets seed` and `hets import` end to end: the binary writes a database, the store reads it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

const PERSONAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml");

fn hets(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hets")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// The number after `name: ` in the seed report.
fn reported(stdout: &str, name: &str) -> u64 {
    let line = stdout.lines().find(|l| l.starts_with(&format!("{name}: "))).unwrap_or_else(|| panic!("{stdout}"));
    line[name.len() + 2..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn seed_demo_writes_personas_and_a_synthetic_population() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("data/hets.db").display());
    let (code, out, err) =
        hets(&["seed", "--db", &url, "--demo", "--beneficiaries", "1000", "--seed", "7", "--personas", PERSONAS]);
    assert_eq!(code, 0, "{out}{err}");
    // 16 personas + 1000; 10 + 1000 providers; 4 + 20 submitters; 2 years.
    assert_eq!(reported(&out, "beneficiaries"), 1016);
    assert_eq!(reported(&out, "providers"), 1010);
    assert_eq!(reported(&out, "submitters"), 24);
    assert_eq!(reported(&out, "cost sharing years"), 2);
    assert_eq!(reported(&out, "transactions"), 0);
    assert!(reported(&out, "relationships") > 12);
    let size = out.lines().find_map(|l| l.strip_prefix("database size: ")).unwrap();
    let bytes: u64 = size.rsplit('(').next().unwrap().trim_end_matches(" bytes)").parse().unwrap();
    assert!(bytes > 100_000, "{size}");
    assert!(out.contains(" s\n"), "elapsed time: {out}");

    let store = store::open(&url).unwrap();
    let b = store.beneficiary("4VQ3C55WU99").unwrap().unwrap();
    assert_eq!((b.key.as_str(), b.last_name.as_str()), ("medicare-advantage", "OKAFOR"));
    assert!(store.verify_password("WDEMO002", "bayside-pass").unwrap());
    let counts = store.counts().unwrap();
    assert_eq!(counts.beneficiaries, 1016);
    drop(store);

    // The same seed again replaces, not duplicates.
    let (code, out, _) = hets(&["seed", "--db", &url, "--demo", "--beneficiaries", "1000", "--seed", "7"]);
    assert_eq!(code, 0);
    assert_eq!(reported(&out, "beneficiaries"), 1016);
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = hets(&["seed", "--beneficiaries", "many"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = hets(&["import", "--db", "sqlite:/nonexistent/never.db"]);
    assert_eq!(code, 2);
}

#[test]
fn import_loads_good_rows_and_refuses_bad_ones_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    std::fs::create_dir(&csv).unwrap();
    std::fs::write(
        csv.join("beneficiaries.csv"),
        "mbi,last_name,first_name,birth_date,gender,address_line1,city,state,zip\n\
         2DG9NX3WK42,HARTWELL,MARGARET,1951-03-14,F,412 ELM ST,TOWSON,MD,21204\n\
         2DG9NX3WK4,SHORT,MBI,1951-03-14,F,,,,\n",
    )
    .unwrap();
    std::fs::write(
        csv.join("entitlements.csv"),
        "mbi,part,from,to\n2DG9NX3WK42,A,2016-03-01,\n2DG9NX3WK42,B,2016-03-01,\n",
    )
    .unwrap();
    std::fs::write(
        csv.join("providers.csv"),
        "npi,name,entity,medicare,enrolled_on\n1125213722,BAYSIDE FAMILY MEDICINE,organization,active,2012-04-01\n\
         1125213723,BAD CHECK DIGIT,organization,active,2012-04-01\n",
    )
    .unwrap();
    let url = format!("sqlite:{}", dir.path().join("hets.db").display());
    let dir_arg = csv.display().to_string();
    let (code, out, err) = hets(&["import", "--db", &url, "--dir", &dir_arg]);
    assert_eq!(code, 1, "refused rows make exit status 1: {out}{err}");
    assert!(err.contains("beneficiaries.csv:3: mbi is not in MBI format"), "{err}");
    assert!(err.contains("providers.csv:3: npi is not a valid NPI"), "{err}");
    assert!(out.contains("loaded beneficiaries: 1"), "{out}");
    assert!(out.contains("loaded entitlements: 2"), "{out}");
    assert!(out.contains("loaded providers: 1"), "{out}");
    assert!(out.contains("refused rows: 2"), "{out}");

    let store = store::open(&url).unwrap();
    let b = store.beneficiary("2DG9NX3WK42").unwrap().unwrap();
    assert_eq!(b.part_b.len(), 1);
    assert!(store.provider("1125213722").unwrap().is_some());

    let missing = dir.path().join("missing.csv").display().to_string();
    let (code, _, err) = hets(&["import", "--db", &url, "--beneficiaries", &missing]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing was loaded"), "{err}");
}
