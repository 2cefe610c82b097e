//! One conformance suite for every `Store`: SQLite always, PostgreSQL when
//! `HETS_TEST_POSTGRES_URL` is set (`.ci/run` sets it). Each PostgreSQL run works in a fresh
//! schema of its own, dropped at the end, so runs can repeat and overlap.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use eligibility::{Instant, Personas, SubmitterStatus};
use store::{Outcome, Relationship, RelationshipStatus, Store, TransactionRecord};
use x12::Date;

fn personas() -> Personas {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    Personas::from_toml(&text).unwrap()
}

fn at(s: &str) -> Instant {
    Instant::parse_rfc3339(s).unwrap()
}

/// What every implementation must do.
fn conformance(store: &dyn Store) {
    let p = personas();
    store::load_personas(store, &p).unwrap();

    // Every persona comes back exactly as the personas file describes it.
    for b in &p.beneficiaries {
        assert_eq!(store.beneficiary(&b.mbi).unwrap().as_ref(), Some(b), "{}", b.key);
    }
    let ma = p.beneficiary("medicare-advantage").unwrap();
    let back = store.beneficiary("4VQ3C55WU99").unwrap().unwrap();
    assert_eq!(&back, ma);
    assert_eq!(back.medicare_advantage[0].contract, "H4321");
    assert_eq!(store.beneficiary("1EG4TE5MK73").unwrap(), None, "well-formed, unknown MBI");
    assert_eq!(store.beneficiary("").unwrap(), None);

    for pr in &p.providers {
        assert_eq!(store.provider(&pr.npi).unwrap().as_ref(), Some(pr), "{}", pr.npi);
    }
    assert_eq!(store.provider("1234567893").unwrap(), None);

    let mut years = p.cost_sharing.clone();
    years.sort_by_key(|c| c.year);
    assert_eq!(store.cost_sharing().unwrap(), years);

    // Submitters: everything but the password, which only verifies.
    let s = store.submitter("WDEMO003").unwrap().unwrap();
    assert_eq!(s.name, "QUICKCHECK BILLING LLC");
    assert_eq!(s.email, "it@quickcheck-billing.example");
    assert_eq!(s.status, SubmitterStatus::Suspended);
    assert_eq!(s.suspended_until, Some(at("2026-11-17T12:00:00Z")));
    assert_eq!(s.suspensions, 1);
    assert_eq!(store.submitter("WDEMO004").unwrap().unwrap().status, SubmitterStatus::Terminated);
    assert_eq!(store.submitter("NOSUCH").unwrap(), None);
    assert!(store.verify_password("WDEMO001", "demo-clearinghouse-pass").unwrap());
    assert!(!store.verify_password("WDEMO001", "bayside-pass").unwrap());
    assert!(!store.verify_password("WDEMO001", "").unwrap());
    assert!(!store.verify_password("NOSUCH", "demo-clearinghouse-pass").unwrap());

    // Relationships: WDEMO001 has the nine NPIs the personas give it.
    let rels = store.relationships_of("WDEMO001").unwrap();
    let mut want: Vec<String> = p.submitters[0].npis.clone();
    want.sort();
    assert_eq!(rels.iter().map(|r| r.npi.clone()).collect::<Vec<_>>(), want);
    let today = p.meta.reference_date;
    for r in &rels {
        assert!(r.active_on(today), "{r:?}");
    }
    let r = store.relationship("WDEMO002", "1125213722").unwrap().unwrap();
    assert_eq!(r.status, RelationshipStatus::Active);
    assert_eq!(r.effective, store::PERSONA_RELATIONSHIPS_FROM);
    assert_eq!(r.end, None);
    assert_eq!(store.relationship("WDEMO002", "1497429880").unwrap(), None);

    // A request's reads in one call agree with the reads one by one, whichever are missing.
    for (submitter, npi, mbi) in [
        ("WDEMO002", "1125213722", Some(ma.mbi.as_str())),
        ("WDEMO002", "1497429880", Some(ma.mbi.as_str())),
        ("WDEMO002", "1234567893", Some("1EG4TE5MK99")),
        ("NOSUCH", "1125213722", None),
    ] {
        let facts = store.request_facts(submitter, npi, mbi).unwrap();
        assert_eq!(facts.provider, store.provider(npi).unwrap(), "{submitter} {npi}");
        assert_eq!(facts.relationship, store.relationship(submitter, npi).unwrap(), "{submitter} {npi}");
        let beneficiary = mbi.map(|m| store.beneficiary(m).unwrap()).unwrap_or_default();
        assert_eq!(facts.beneficiary, beneficiary, "{submitter} {npi}");
    }
    let both = store.request_facts("WDEMO002", "1125213722", Some(&ma.mbi)).unwrap();
    assert!(both.provider.is_some() && both.relationship.is_some());
    assert_eq!(both.beneficiary.as_ref(), Some(ma));

    // Writers replace by key.
    let suspended = Relationship {
        submitter: "WDEMO002".into(),
        npi: "1125213722".into(),
        status: RelationshipStatus::Suspended,
        effective: Date::new(2020, 1, 1).unwrap(),
        end: Some(Date::new(2030, 12, 31).unwrap()),
    };
    store.put_relationships(std::slice::from_ref(&suspended)).unwrap();
    let back = store.relationship("WDEMO002", "1125213722").unwrap().unwrap();
    assert_eq!(back, suspended);
    assert!(!back.active_on(today));
    let mut moved = ma.clone();
    moved.last_name = "OKAFOR-REED".into();
    moved.part_d.clear();
    store.put_beneficiaries(&[ma.clone(), moved.clone()]).unwrap();
    assert_eq!(store.beneficiary(&ma.mbi).unwrap(), Some(moved), "the last of a batch wins");
    store.put_beneficiaries(std::slice::from_ref(ma)).unwrap();
    assert_eq!(store.beneficiary(&ma.mbi).unwrap().as_ref(), Some(ma));

    // Bad keys are refused, not stored.
    let mut bad = ma.clone();
    bad.mbi = "2DG9NX3WK4".into();
    assert!(store.put_beneficiaries(&[bad]).is_err());

    // Transactions append and read back in instant order, per submitter and period.
    let t1 = TransactionRecord {
        at: at("2026-11-16T09:30:00.25Z"),
        submitter: "WDEMO001".into(),
        npi: Some("1125213722".into()),
        mbi: Some("2DG9NX3WK42".into()),
        outcome: Outcome::Response271,
        aaa_codes: vec![],
        service_types: vec!["30".into()],
        duration_micros: 850,
    };
    let t2 = TransactionRecord {
        at: at("2026-11-16T09:29:00Z"),
        outcome: Outcome::Response271Aaa,
        aaa_codes: vec!["73".into(), "71".into()],
        service_types: vec!["30".into(), "47".into()],
        duration_micros: 1200,
        ..t1.clone()
    };
    let t3 = TransactionRecord {
        at: at("2026-11-16T10:00:00Z"),
        npi: None,
        mbi: None,
        outcome: Outcome::Ta1,
        service_types: vec![],
        ..t1.clone()
    };
    let other = TransactionRecord { submitter: "WDEMO002".into(), outcome: Outcome::Ack999, ..t1.clone() };
    let id1 = store.record_transaction(&t1).unwrap();
    let id2 = store.record_transaction(&t2).unwrap();
    assert!(id2 > id1);
    store.record_transactions(&[t3.clone(), other.clone()]).unwrap();
    let got = store.transactions_for("WDEMO001", at("2026-11-16T00:00:00Z"), at("2026-11-17T00:00:00Z")).unwrap();
    let records: Vec<TransactionRecord> = got.iter().map(|t| t.record.clone()).collect();
    assert_eq!(records, vec![t2.clone(), t1.clone(), t3.clone()]);
    assert_eq!(got[1].id, id1);
    // `to` is excluded, `from` included.
    let got = store.transactions_for("WDEMO001", t1.at, t3.at).unwrap();
    assert_eq!(got.iter().map(|t| t.record.clone()).collect::<Vec<_>>(), vec![t1.clone()]);
    assert_eq!(store.transactions_for("WDEMO002", t1.at, t3.at).unwrap()[0].record, other);

    let counts = store.counts().unwrap();
    assert_eq!(counts.beneficiaries, p.beneficiaries.len() as u64);
    assert_eq!(counts.providers, p.providers.len() as u64);
    assert_eq!(counts.submitters, p.submitters.len() as u64);
    assert_eq!(counts.relationships, p.submitters.iter().map(|s| s.npis.len() as u64).sum::<u64>());
    assert_eq!(counts.cost_sharing_years, 2);
    assert_eq!(counts.transactions, 4);
    assert!(store.size_bytes().unwrap() > 0);

    // A synthetic population loads beside the personas, in bulk mode, and reads back.
    let pop = store::synthetic::Population::new(7, 500, 40, 3, today).reserving(&p);
    store.set_bulk_load(true).unwrap();
    store.put_providers(&pop.providers()).unwrap();
    store.put_submitters(&pop.submitters()).unwrap();
    store.put_relationships(&pop.relationships()).unwrap();
    let all: Vec<_> = pop.beneficiaries(0..500).collect();
    store.put_beneficiaries(&all).unwrap();
    store.set_bulk_load(false).unwrap();
    for b in all.iter().step_by(37) {
        assert_eq!(store.beneficiary(&b.mbi).unwrap().as_ref(), Some(b));
    }
    let id = store::synthetic::Population::submitter_id(0);
    assert!(store.verify_password(&id, &store::synthetic::Population::submitter_password(&id)).unwrap());
    let counts = store.counts().unwrap();
    assert_eq!(counts.beneficiaries, p.beneficiaries.len() as u64 + 500);
    assert_eq!(counts.providers, p.providers.len() as u64 + 40);

    connectivity(store);
    compliance(store);
    desktop(store);

    // Readers on several threads at once.
    std::thread::scope(|s| {
        for t in 0..4 {
            let all = &all;
            s.spawn(move || {
                for b in all.iter().skip(t).step_by(4) {
                    assert_eq!(store.beneficiary(&b.mbi).unwrap().as_ref(), Some(b));
                }
            });
        }
    });
}

/// Migration 0002: replayable answers (D11) and maintenance windows (D12).
fn connectivity(store: &dyn Store) {
    let t0 = at("2026-11-16T09:30:00Z");
    let replay = |id: &str, digest: &str, when: Instant| store::Replay {
        sender: "WDEMO001".into(),
        payload_id: id.into(),
        at: when,
        request_digest: digest.into(),
        payload_type: "X12_271_Response_005010X279A1".into(),
        response: b"ISA*00*...~".to_vec(),
    };
    let before = store.counts().unwrap().transactions;
    let record = store::TransactionRecord {
        at: t0,
        submitter: "WDEMO001".into(),
        npi: None,
        mbi: None,
        outcome: store::Outcome::Ta1,
        aaa_codes: vec![],
        service_types: vec![],
        duration_micros: 1,
    };
    // Two replays for one key in one batch: the first stays.
    store
        .record_exchanges(
            &[record.clone(), record],
            &[replay("p-1", "aa", t0), replay("p-1", "bb", t0), replay("p-2", "cc", t0)],
        )
        .unwrap();
    assert_eq!(store.counts().unwrap().transactions, before + 2);
    let got = store.replay("WDEMO001", "p-1", at("2026-11-15T09:30:00Z")).unwrap().unwrap();
    assert_eq!(got, replay("p-1", "aa", t0));
    assert_eq!(store.replay("WDEMO002", "p-1", at("2026-11-15T09:30:00Z")).unwrap(), None);
    assert_eq!(store.replay("WDEMO001", "p-1", at("2026-11-16T10:00:00Z")).unwrap(), None);
    // A later answer under a held key younger than 24 h does not replace it; an older one does.
    store.record_exchanges(&[], &[replay("p-1", "dd", at("2026-11-16T12:00:00Z"))]).unwrap();
    assert_eq!(store.replay("WDEMO001", "p-1", t0).unwrap().unwrap().request_digest, "aa");
    store.record_exchanges(&[], &[replay("p-1", "ee", at("2026-11-18T12:00:00Z"))]).unwrap();
    assert_eq!(store.replay("WDEMO001", "p-1", t0).unwrap().unwrap().request_digest, "ee");
    assert_eq!(store.purge_replays(at("2026-11-17T00:00:00Z")).unwrap(), 1);
    assert_eq!(store.replay("WDEMO001", "p-2", t0).unwrap(), None);

    let w = store::MaintenanceWindow { id: 0, starts: t0, ends: at("2026-11-16T11:30:00Z"), reason: "upgrade".into() };
    let id = store.add_maintenance(&w).unwrap();
    let bad = store::MaintenanceWindow { ends: t0, ..w.clone() };
    assert!(store.add_maintenance(&bad).is_err());
    assert_eq!(
        store.maintenance_windows(at("2026-11-16T10:00:00Z")).unwrap(),
        vec![store::MaintenanceWindow { id, ..w }]
    );
    assert!(store.maintenance_windows(at("2026-11-16T11:30:00Z")).unwrap().is_empty());
    assert!(store.delete_maintenance(id).unwrap());
    assert!(!store.delete_maintenance(id).unwrap());
}

/// Migration 0003: audits, cases, CAPs, history and the outbox, written as one decision.
fn compliance(store: &dyn Store) {
    use store::{
        AaaCaseRow, Applied, AuditRecord, Cap, CapChange, CapState, CaseChange, ComplianceWrite, OutboxMessage,
        RelationshipChange, Standing, StandingChange, StatusChange, StoreError,
    };
    let t0 = at("2026-11-17T05:00:00Z");
    let all = store.submitters().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by id: {ids:?}");
    assert!(ids.starts_with(&["WDEMO001", "WDEMO002", "WDEMO003"]), "{ids:?}");
    let before = store.submitter("WDEMO001").unwrap().unwrap().standing();
    assert_eq!(before.terminations, 0);
    let suspended = Standing {
        status: SubmitterStatus::Suspended,
        suspended_until: Some(at("2026-11-18T05:00:00Z")),
        suspensions: before.suspensions + 1,
        terminations: 0,
    };
    let audit = AuditRecord {
        submitter: "WDEMO001".into(),
        period: "2026-11-16".into(),
        period_start: at("2026-11-16T05:00:00Z"),
        period_end: t0,
        at: t0,
        npi_verdict: "fail".into(),
        aaa_verdict: "within".into(),
        figures: "{\"transactions\":1000}".into(),
        actions: "suspended for 24 hours".into(),
    };
    let npi = "1125213722";
    let case = AaaCaseRow {
        id: "AAA-WDEMO001-2026-11-16".into(),
        submitter: "WDEMO001".into(),
        period: "2026-11-16".into(),
        opened: t0,
        deadline: at("2026-12-01T05:00:00Z"),
        state: "notified".into(),
        figures: "{}".into(),
    };
    let change = StatusChange {
        id: 0,
        at: t0,
        submitter: "WDEMO001".into(),
        subject: "submitter".into(),
        from: "active".into(),
        to: "suspended".into(),
        reason: "NPI audit failed".into(),
        actor: "audit".into(),
    };
    let email =
        OutboxMessage::new(t0, "suspension", Some("WDEMO001"), "ops@example.org", "s".into(), "t".into(), "h".into());
    let write = ComplianceWrite {
        audit: Some(audit.clone()),
        standing: Some(StandingChange { submitter: "WDEMO001".into(), expect: before, to: suspended }),
        relationships: vec![RelationshipChange {
            submitter: "WDEMO001".into(),
            npi: npi.into(),
            expect: RelationshipStatus::Active,
            to: RelationshipStatus::Suspended,
        }],
        cases: vec![CaseChange { case: case.clone(), expect: None }],
        caps: vec![],
        changes: vec![change.clone()],
        emails: vec![email.clone()],
    };
    assert_eq!(store.apply_compliance(&write).unwrap(), Applied::Written);
    // The same audit again changes nothing at all (idempotent).
    assert_eq!(store.apply_compliance(&write).unwrap(), Applied::AlreadyAudited);
    assert_eq!(store.submitter("WDEMO001").unwrap().unwrap().standing(), suspended);
    assert_eq!(store.relationship("WDEMO001", npi).unwrap().unwrap().status, RelationshipStatus::Suspended);
    assert_eq!(store.audit_records(None, "2026-11-16", "2026-11-16").unwrap(), vec![audit]);
    assert!(store.audit_records(Some("WDEMO002"), "2026-11-01", "2026-11-30").unwrap().is_empty());
    assert_eq!(store.aaa_cases(Some("WDEMO001")).unwrap(), vec![case.clone()]);
    let history = store.status_changes(Some("WDEMO001"), 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(StatusChange { id: 0, ..history[0].clone() }, change);
    // A stale expectation fails the whole write and writes nothing.
    let stale = ComplianceWrite {
        standing: Some(StandingChange { submitter: "WDEMO001".into(), expect: before, to: before }),
        changes: vec![change.clone()],
        ..ComplianceWrite::default()
    };
    assert!(matches!(store.apply_compliance(&stale), Err(StoreError::Conflict(_))));
    assert_eq!(store.status_changes(Some("WDEMO001"), 10).unwrap().len(), 1);

    // A CAP, its decision, and the case moving on.
    let cap = Cap {
        id: "CAP-1".into(),
        submitter: "WDEMO001".into(),
        subject: format!("aaa_case:{}", case.id),
        understanding: "We use HETS only for Medicare business.".into(),
        steps: "Validate NPIs before sending.".into(),
        expected_reduction: "AAA share from 14% to under 5%".into(),
        submitted: at("2026-11-20T12:00:00Z"),
        submitted_by: "WDEMO001".into(),
        state: CapState::Submitted,
        decided: None,
        decided_by: None,
        comment: None,
    };
    let moved = AaaCaseRow { state: "cap_submitted".into(), ..case.clone() };
    store
        .apply_compliance(&ComplianceWrite {
            caps: vec![CapChange { cap: cap.clone(), expect: None }],
            cases: vec![CaseChange { case: moved.clone(), expect: Some("notified".into()) }],
            ..ComplianceWrite::default()
        })
        .unwrap();
    let accepted = Cap {
        state: CapState::Accepted,
        decided: Some(at("2026-11-21T12:00:00Z")),
        decided_by: Some("admin".into()),
        comment: Some("ok".into()),
        ..cap.clone()
    };
    let decide = ComplianceWrite {
        caps: vec![CapChange { cap: accepted.clone(), expect: Some(CapState::Submitted) }],
        ..ComplianceWrite::default()
    };
    store.apply_compliance(&decide).unwrap();
    assert!(matches!(store.apply_compliance(&decide), Err(StoreError::Conflict(_))));
    assert_eq!(store.caps(Some("WDEMO001")).unwrap(), vec![accepted]);
    assert_eq!(store.aaa_cases(None).unwrap(), vec![moved]);

    // The outbox: due, failed with a retry, sent.
    let out = store.outbox(10).unwrap();
    assert_eq!(out.len(), 1);
    let id = out[0].id;
    assert_eq!(OutboxMessage { id: 0, ..out[0].clone() }, email);
    assert_eq!(store.outbox_due(t0, 10).unwrap().len(), 1);
    store.outbox_failed(id, 1, at("2026-11-17T05:01:00Z"), false, "connection refused").unwrap();
    assert!(store.outbox_due(t0, 10).unwrap().is_empty());
    let due = store.outbox_due(at("2026-11-17T05:01:00Z"), 10).unwrap();
    assert_eq!((due[0].attempts, due[0].last_error.as_deref()), (1, Some("connection refused")));
    store.outbox_sent(id, at("2026-11-17T05:01:02Z")).unwrap();
    assert!(store.outbox_due(at("2026-11-18T00:00:00Z"), 10).unwrap().is_empty());
    let sent = &store.outbox(10).unwrap()[0];
    assert_eq!((sent.attempts, sent.sent), (2, Some(at("2026-11-17T05:01:02Z"))));

    // Scanning streams one submitter's records in order.
    let mut seen = Vec::new();
    let n = store
        .scan_transactions("WDEMO001", at("2026-11-16T00:00:00Z"), at("2026-11-17T00:00:00Z"), &mut |r| seen.push(r.at))
        .unwrap();
    assert_eq!(n as usize, seen.len());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));

    // One holder of a named lock at a time; dropping releases it.
    let held = store.try_exclusive("audit 2026-11-16").unwrap();
    assert!(held.is_some());
    assert!(store.try_exclusive("audit 2026-11-16").unwrap().is_none());
    assert!(store.try_exclusive("audit 2026-11-17").unwrap().is_some());
    drop(held);
    assert!(store.try_exclusive("audit 2026-11-16").unwrap().is_some());

    // Put the demo submitter back as it was for the checks that follow.
    store
        .apply_compliance(&ComplianceWrite {
            standing: Some(StandingChange { submitter: "WDEMO001".into(), expect: suspended, to: before }),
            relationships: vec![RelationshipChange {
                submitter: "WDEMO001".into(),
                npi: npi.into(),
                expect: RelationshipStatus::Suspended,
                to: RelationshipStatus::Active,
            }],
            ..ComplianceWrite::default()
        })
        .unwrap();
}

/// Migration 0004: the desktop's users, sessions, profiles, attestations, freezes, bulletins.
fn desktop(store: &dyn Store) {
    use store::{
        Attestation, AttestationState, Audience, Bulletin, ConnectionMethod, DesktopRole, FreezeWindow, NewDesktopUser,
        NewSubmitter, Session, SignIn, SubmitterProfile,
    };
    let t0 = at("2026-11-20T10:00:00Z");
    let user = NewDesktopUser {
        username: "wdemo001".into(),
        role: DesktopRole::Submitter,
        submitter: Some("WDEMO001".into()),
        npi: None,
        password: "desk-pass".into(),
    };
    store.put_desktop_user(&user, t0).unwrap();
    let admin = NewDesktopUser {
        username: "helpdesk".into(),
        role: DesktopRole::Admin,
        submitter: None,
        npi: None,
        password: "help-pass".into(),
    };
    store.put_desktop_user(&admin, t0).unwrap();
    assert!(store.put_desktop_user(&NewDesktopUser { submitter: None, ..user.clone() }, t0).is_err());
    // Migration 0005: a provider user is bound to one NPI, and to nothing else.
    let provider = NewDesktopUser {
        username: "npi1125213722".into(),
        role: DesktopRole::Provider,
        submitter: None,
        npi: Some("1125213722".into()),
        password: "prov-pass".into(),
    };
    store.put_desktop_user(&provider, t0).unwrap();
    assert!(store.put_desktop_user(&NewDesktopUser { npi: None, ..provider.clone() }, t0).is_err());
    assert!(store.put_desktop_user(&NewDesktopUser { npi: Some("12345".into()), ..provider.clone() }, t0).is_err());
    let both = NewDesktopUser { submitter: Some("WDEMO001".into()), ..provider.clone() };
    assert!(store.put_desktop_user(&both, t0).is_err());
    assert!(store.put_desktop_user(&NewDesktopUser { npi: Some("1125213722".into()), ..user.clone() }, t0).is_err());
    let SignIn::Ok(p) = store.verify_desktop_user("npi1125213722", "prov-pass", t0).unwrap() else { panic!() };
    assert_eq!((p.role, p.npi.as_deref(), p.submitter.as_deref()), (DesktopRole::Provider, Some("1125213722"), None));
    assert_eq!(store.desktop_user("wdemo001").unwrap().unwrap().npi, None);
    assert_eq!(store.desktop_users().unwrap().len(), 3);
    let SignIn::Ok(u) = store.verify_desktop_user("wdemo001", "desk-pass", t0).unwrap() else { panic!() };
    assert_eq!(u.submitter.as_deref(), Some("WDEMO001"));
    assert_eq!(store.verify_desktop_user("nobody", "desk-pass", t0).unwrap(), SignIn::Wrong);
    // Five wrong passwords lock for 30 minutes; even the right one is refused meanwhile.
    for _ in 0..4 {
        assert_eq!(store.verify_desktop_user("wdemo001", "nope", t0).unwrap(), SignIn::Wrong);
    }
    let until = at("2026-11-20T10:30:00Z");
    assert_eq!(store.verify_desktop_user("wdemo001", "nope", t0).unwrap(), SignIn::Locked { until });
    assert_eq!(store.verify_desktop_user("wdemo001", "desk-pass", t0).unwrap(), SignIn::Locked { until });
    assert_eq!(store.desktop_user("wdemo001").unwrap().unwrap().locked_until, Some(until));
    assert!(matches!(store.verify_desktop_user("wdemo001", "desk-pass", until).unwrap(), SignIn::Ok(_)));
    for _ in 0..5 {
        store.verify_desktop_user("wdemo001", "nope", t0).unwrap();
    }
    assert!(store.unlock_desktop_user("wdemo001").unwrap());
    assert!(matches!(store.verify_desktop_user("wdemo001", "desk-pass", t0).unwrap(), SignIn::Ok(_)));

    // Sessions by token hash.
    let token = store::desktop::new_token().unwrap();
    let hash = store::desktop::token_hash(&token);
    assert_ne!(hash, token);
    let session =
        Session { token_hash: hash.clone(), username: "wdemo001".into(), csrf: "c".into(), created: t0, last_seen: t0 };
    store.create_session(&session).unwrap();
    assert_eq!(store.session(&hash).unwrap(), Some(session));
    let t1 = at("2026-11-20T10:05:00Z");
    assert!(store.touch_session(&hash, t1).unwrap());
    assert_eq!(store.session(&hash).unwrap().unwrap().last_seen, t1);
    assert!(store.delete_session(&hash).unwrap());
    assert_eq!(store.session(&hash).unwrap(), None);
    assert!(!store.touch_session(&hash, t1).unwrap());

    // Submitter creation with its profile; a taken id is a conflict.
    let profile = SubmitterProfile {
        submitter: "WNEW0001".into(),
        tpa_date: Some(Date::new(2026, 11, 1).unwrap()),
        rob_date: Some(Date::new(2026, 11, 2).unwrap()),
        connection: ConnectionMethod::Mime,
        certificate_subject: Some("CN=WNEW0001".into()),
    };
    let new = NewSubmitter {
        id: "WNEW0001".into(),
        name: "NEW CLEARINGHOUSE".into(),
        email: "ops@new.example".into(),
        password: "new-pass".into(),
        profile: profile.clone(),
    };
    store.create_submitter(&new).unwrap();
    assert!(matches!(store.create_submitter(&new), Err(store::StoreError::Conflict(_))));
    assert_eq!(store.submitter("WNEW0001").unwrap().unwrap().status, SubmitterStatus::Active);
    assert!(store.verify_password("WNEW0001", "new-pass").unwrap());
    assert_eq!(store.submitter_profile("WNEW0001").unwrap(), Some(profile.clone()));
    let soap = SubmitterProfile { submitter: "WDEMO002".into(), connection: ConnectionMethod::Soap, ..profile };
    store.put_submitter_profile(&soap).unwrap();
    assert_eq!(store.submitter_profiles().unwrap().len(), 2);

    // Relationships: search with paging, batch write, delete.
    let rel = |npi: &str| Relationship {
        submitter: "WNEW0001".into(),
        npi: npi.into(),
        status: RelationshipStatus::Active,
        effective: Date::new(2026, 1, 1).unwrap(),
        end: None,
    };
    store.write_relationships("WNEW0001", &[rel("1125213722"), rel("1497429880"), rel("1660947684")], &[]).unwrap();
    let page = store.search_relationships("WNEW0001", "1", 1, 1).unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.items, vec![rel("1497429880")]);
    assert_eq!(store.search_relationships("WNEW0001", "16", 0, 10).unwrap().total, 1);
    assert_eq!(store.search_relationships("WNEW0001", "%", 0, 10).unwrap().total, 0);
    store.write_relationships("WNEW0001", &[], &["1660947684".into()]).unwrap();
    assert!(store.delete_relationship("WNEW0001", "1497429880").unwrap());
    assert!(!store.delete_relationship("WNEW0001", "1497429880").unwrap());
    assert!(store.write_relationships("WDEMO001", &[rel("1125213722")], &[]).is_err());
    assert_eq!(store.relationships_of("WNEW0001").unwrap(), vec![rel("1125213722")]);

    // HDT Batch: the rows and the result file in one transaction; results listed newest first
    // without their files, and found by name with theirs (the latest of a name).
    let result = |name: &str, at_: &str, csv: &str| store::BatchResult {
        id: 0,
        submitter: "WNEW0001".into(),
        username: "wnew0001".into(),
        file_name: name.replace("_RESULTS", ""),
        result_name: name.into(),
        at: at(at_),
        accepted: 1,
        rejected: 2,
        result_csv: csv.into(),
    };
    let first = result("WNEW0001_HDTB_20261201_001_RESULTS.csv", "2026-12-01T10:00:00Z", "first\r\n");
    let id1 = store.write_batch("WNEW0001", &[rel("1497429880")], &[], &first).unwrap();
    let again = result("WNEW0001_HDTB_20261201_001_RESULTS.csv", "2026-12-01T11:00:00Z", "again\r\n");
    let id2 = store.write_batch("WNEW0001", &[], &["1497429880".into()], &again).unwrap();
    assert_ne!(id1, id2);
    assert_eq!(store.relationships_of("WNEW0001").unwrap(), vec![rel("1125213722")], "the batch's rows applied");
    let list = store.batch_results("WNEW0001", 10).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], store::BatchResult { id: id2, result_csv: String::new(), ..again.clone() });
    assert_eq!(list[1], store::BatchResult { id: id1, result_csv: String::new(), ..first.clone() });
    assert_eq!(store.batch_results("WNEW0001", 1).unwrap().len(), 1);
    assert_eq!(
        store.batch_result("WNEW0001", &again.result_name).unwrap(),
        Some(store::BatchResult { id: id2, ..again })
    );
    assert_eq!(store.batch_result("WDEMO001", &first.result_name).unwrap(), None, "another submitter's");
    assert!(store.batch_results("WDEMO001", 10).unwrap().is_empty());
    // A result for another submitter than the rows' is refused, and nothing is written.
    let stray = store::BatchResult { submitter: "WDEMO001".into(), ..first };
    assert!(store.write_batch("WNEW0001", &[rel("1660947684")], &[], &stray).is_err());
    assert_eq!(store.relationships_of("WNEW0001").unwrap(), vec![rel("1125213722")]);

    // Attestations.
    let a = Attestation {
        npi: "1125213722".into(),
        submitter: "WNEW0001".into(),
        state: AttestationState::Attested,
        at: t0,
    };
    store.put_attestation(&a).unwrap();
    assert_eq!(store.attestation("1125213722", "WNEW0001").unwrap(), Some(a.clone()));
    let revoked = Attestation { state: AttestationState::Revoked, at: t1, ..a };
    store.put_attestation(&revoked).unwrap();
    assert_eq!(store.attestations_of("1125213722").unwrap(), vec![revoked]);
    assert_eq!(store.attestation("1125213722", "WDEMO001").unwrap(), None);

    // Freeze windows.
    let w = FreezeWindow { id: 0, starts: t0, ends: t1, reason: "HAA migration".into() };
    let id = store.add_freeze(&w).unwrap();
    assert!(store.add_freeze(&FreezeWindow { ends: t0, ..w.clone() }).is_err());
    assert_eq!(store.freeze_windows(t0).unwrap(), vec![FreezeWindow { id, ..w }]);
    assert!(store.freeze_windows(t1).unwrap().is_empty());
    assert!(store.delete_freeze(id).unwrap());
    assert!(!store.delete_freeze(id).unwrap());

    // Bulletins go out once, with their emails.
    let b = Bulletin {
        id: 0,
        release: "R2026Q400".into(),
        title: "New release".into(),
        body: "Body".into(),
        audience: Audience::Soap,
        scheduled: t1,
        sent: None,
    };
    let bid = store.add_bulletin(&b).unwrap();
    let before = store.outbox(1000).unwrap().len();
    let mail = store::OutboxMessage::new(
        t1,
        "release_bulletin",
        Some("WDEMO002"),
        "a@b.example",
        "s".into(),
        "t".into(),
        "h".into(),
    );
    assert!(store.bulletin_sent(bid, t1, std::slice::from_ref(&mail)).unwrap());
    assert!(!store.bulletin_sent(bid, t1, &[mail]).unwrap());
    assert_eq!(store.outbox(1000).unwrap().len(), before + 1);
    assert_eq!(store.bulletins().unwrap(), vec![Bulletin { id: bid, sent: Some(t1), ..b }]);

    // Settings.
    assert_eq!(store.setting("relationship_rule").unwrap(), None);
    store.put_setting("relationship_rule", "both").unwrap();
    store.put_setting("relationship_rule", "attested").unwrap();
    assert_eq!(store.setting("relationship_rule").unwrap().as_deref(), Some("attested"));
    store.put_setting("relationship_rule", "declared").unwrap();
}

#[test]
fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: created on first use.
    let path = dir.path().join("nested/dir/hets.db");
    let url = format!("sqlite:{}", path.display());
    let store = store::open(&url).unwrap();
    assert_eq!(store.backend(), "sqlite");
    conformance(store.as_ref());
    drop(store);
    // Reopening applies no migration twice and keeps the data.
    let again = store::open(&url).unwrap();
    assert_eq!(again.beneficiary("2DG9NX3WK42").unwrap().unwrap().last_name, "HARTWELL");
    let conn = rusqlite_journal_mode(&path);
    assert_eq!(conn, "wal");
}

fn rusqlite_journal_mode(path: &std::path::Path) -> String {
    // The store's own dependency, used here only to look at the file from outside.
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap()
}

#[test]
fn bad_urls_are_refused_without_echoing_them() {
    for url in ["mysql://root:secret@localhost/x", "sqlite:", "hets.db"] {
        let err = store::open(url).err().unwrap().to_string();
        assert!(!err.contains("secret"), "{err}");
    }
}

/// A fresh schema in the test database, dropped when the guard goes.
struct PgSchema {
    base: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

fn with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

#[test]
fn postgres_conforms() {
    let Ok(base) = std::env::var("HETS_TEST_POSTGRES_URL") else {
        eprintln!("HETS_TEST_POSTGRES_URL is not set: PostgreSQL conformance skipped");
        return;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("hets_test_{}_{}", std::process::id(), nanos % 1_000_000_000);
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("PostgreSQL at HETS_TEST_POSTGRES_URL");
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let _guard = PgSchema { base: base.clone(), name: schema.clone() };
    let url = with_schema(&base, &schema);
    let store = store::open(&url).unwrap();
    assert_eq!(store.backend(), "postgres");
    conformance(store.as_ref());
    drop(store);
    let again = store::open(&url).unwrap();
    assert_eq!(again.beneficiary("2DG9NX3WK42").unwrap().unwrap().last_name, "HARTWELL");
    // Each migration ran once, in this schema.
    let n: i64 = admin.query_one(&format!("SELECT count(*) FROM {schema}.schema_migrations"), &[]).unwrap().get(0);
    assert_eq!(n, 7);
}
