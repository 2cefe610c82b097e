//! One 270 through the crates: x12 checks it, the store is asked, eligibility decides, x12
//! writes the answer, the store records the transaction.

use crate::recorder::Recorder;
use eligibility::{Context, Facts, Instant, RelationshipState, Releases, Settings};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use store::{
    AttestationState, Outcome, Relationship, RelationshipRule, RelationshipStatus, Replay, Store, TransactionRecord,
};
use x12::{Checked, Delimiters, OutboundEnvelope, Rules};

/// What the answer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// The interchange could not be accepted.
    Ta1,
    /// The transaction set was rejected.
    Ack999,
    /// The eligibility response (possibly carrying AAA segments).
    Response271,
}

impl AnswerKind {
    /// The CORE PayloadType of the answer.
    pub fn payload_type(self) -> &'static str {
        match self {
            AnswerKind::Ta1 => "X12_TA1_Response_00501X231A1",
            AnswerKind::Ack999 => "X12_999_Response_005010X231A1",
            AnswerKind::Response271 => "X12_271_Response_005010X279A1",
        }
    }
}

/// One inbound interchange: its bytes, the authenticated submitter, the transaction instant.
#[derive(Clone, Copy, Debug)]
pub struct Inbound<'a> {
    pub payload: &'a [u8],
    pub submitter: &'a str,
    pub at: Instant,
}

/// The answer to one interchange and the record kept of it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub kind: AnswerKind,
    pub payload: Vec<u8>,
    pub record: TransactionRecord,
}

/// Answers 270s against one store, under the releases and settings it was built with.
pub struct Responder {
    store: Arc<dyn Store>,
    releases: Releases,
    settings: Settings,
    /// Cost sharing changes once a year: read once, not per request.
    cost_sharing: Vec<eligibility::CostSharing>,
    /// ISA13/GS06 of the answers.
    control: AtomicU32,
    recorder: Recorder,
    /// The relationship rule (declared, attested or both) and when it was read: an operator
    /// setting that may change at run time, on any node, so it is read again after
    /// [`RULE_TTL`] instead of on every request.
    rule: Mutex<Option<(RelationshipRule, std::time::Instant)>>,
    /// Each (submitter, NPI)'s provider and relationship as last read, for [`REFERENCE_TTL`].
    references: Mutex<HashMap<String, Arc<Reference>>>,
}

/// A provider and a submitter's relationship with it, as read at `read` under the store's
/// `version` (`Store::reference_version`).
struct Reference {
    provider: Option<eligibility::Provider>,
    relationship: Option<Relationship>,
    read: std::time::Instant,
    version: Option<u64>,
}

/// How long a provider and a relationship read with one request serve the next requests of the
/// same submitter and NPI, which then read only their beneficiary: two of the three reads of
/// every request saved. Only on a store that versions its reference data
/// (`Store::reference_version`: SQLite, whose one server makes the changes): a change made
/// through it (the desktop, the API, an audit, a batch file) is seen at once, one made by
/// another process (a command-line import) within this second. PostgreSQL's nodes share their
/// data, so there every request reads all three.
const REFERENCE_TTL: Duration = Duration::from_secs(1);
/// Past this many (submitter, NPI) pairs the memory starts over (random NPIs must not grow
/// it without bound).
const REFERENCES_KEPT: usize = 10_000;

/// How long the relationship rule read from the store is trusted.
const RULE_TTL: Duration = Duration::from_secs(1);

/// The id this system answers as (ISA08 of every inbound interchange, ISA06 of every answer).
pub const RECEIVER_ID: &str = "CMS";

impl Responder {
    pub fn new(store: Arc<dyn Store>, releases: Releases, settings: Settings) -> Result<Responder, store::StoreError> {
        let cost_sharing = store.cost_sharing()?;
        let recorder = Recorder::start(store.clone());
        Ok(Responder {
            store,
            releases,
            settings,
            cost_sharing,
            control: AtomicU32::new(1),
            recorder,
            rule: Mutex::new(None),
            references: Mutex::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The releases the answers follow (the desktop shows which HDT Batch convention is in
    /// force from them).
    pub fn releases(&self) -> &Releases {
        &self.releases
    }

    /// The relationship rule in force (the `relationship_rule` setting; `declared` when unset).
    fn relationship_rule(&self) -> Result<RelationshipRule, store::StoreError> {
        let mut cached = self.rule.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((rule, read)) = *cached
            && read.elapsed() < RULE_TTL
        {
            return Ok(rule);
        }
        let rule = match self.store.setting(RelationshipRule::SETTING)? {
            Some(text) => RelationshipRule::parse(&text).unwrap_or_else(|| {
                tracing::warn!(value = %text, "unknown relationship_rule setting; using declared");
                RelationshipRule::Declared
            }),
            None => RelationshipRule::Declared,
        };
        *cached = Some((rule, std::time::Instant::now()));
        Ok(rule)
    }

    fn next_control(&self) -> u32 {
        // ISA13 is nine digits; wrap before it overflows them.
        self.control.fetch_add(1, Ordering::Relaxed) % 1_000_000_000
    }

    /// Answers one interchange and records the transaction, returning once the record is
    /// committed (a failed write is logged; the command line has no one to refuse).
    pub fn respond(&self, inbound: &Inbound<'_>) -> Answer {
        let answer = self.prepare(inbound);
        self.recorder.record_durably(answer.record.clone(), None);
        answer
    }

    /// Answers one interchange without recording it: the caller must hand the record to
    /// [`Responder::record`] and release the answer only once that has reported success.
    pub fn prepare(&self, inbound: &Inbound<'_>) -> Answer {
        let started = std::time::Instant::now();
        let mut answer = self.answer(inbound, false);
        answer.record.duration_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        answer
    }

    /// The answer when the store cannot be waited for (the internal deadline was missed): an
    /// accepted 270 gets AAA 42 at 2100A (D3); a refused one its TA1 or 999 as usual.
    pub fn unavailable(&self, inbound: &Inbound<'_>) -> Answer {
        self.answer(inbound, true)
    }

    /// Records a transaction (and the replayable answer of D11) with the next group commit and
    /// waits for it: true once both are committed, false if they could not be written.
    pub async fn record(&self, record: TransactionRecord, replay: Option<Replay>) -> bool {
        self.recorder.record(record, replay).await
    }

    /// Waits until every transaction answered so far is in the store.
    pub fn flush(&self) {
        self.recorder.flush();
    }

    fn answer(&self, inbound: &Inbound<'_>, store_down: bool) -> Answer {
        let rules = Rules { receiver_id: Some(RECEIVER_ID), sender_id: Some(inbound.submitter) };
        let (date, time) = (inbound.at.date(), inbound.at.time());
        let mut record = TransactionRecord {
            at: inbound.at,
            submitter: inbound.submitter.to_string(),
            npi: None,
            mbi: None,
            outcome: Outcome::Ta1,
            aaa_codes: Vec::new(),
            service_types: Vec::new(),
            duration_micros: 0,
        };
        let mut payload = Vec::with_capacity(4096);
        let kind = match x12::check_270(inbound.payload, &rules) {
            Checked::Interchange { interchange, ta1 } => {
                let env = match &interchange {
                    Some(h) => OutboundEnvelope::reply_to(h, date, time, self.next_control()),
                    // No readable ISA: answer in the default delimiters to the authenticated
                    // submitter.
                    None => OutboundEnvelope {
                        delimiters: Delimiters::default(),
                        sender_qualifier: "ZZ",
                        sender_id: RECEIVER_ID,
                        receiver_qualifier: "ZZ",
                        receiver_id: inbound.submitter,
                        date,
                        time,
                        control_number: self.next_control(),
                        usage: "P",
                    },
                };
                ta1.write(&env, &mut payload);
                AnswerKind::Ta1
            }
            Checked::Rejected { interchange, ack } => {
                record.outcome = Outcome::Ack999;
                ack.write(&OutboundEnvelope::reply_to(&interchange, date, time, self.next_control()), &mut payload);
                AnswerKind::Ack999
            }
            Checked::Accepted { interchange, transaction: inq, .. } => {
                let keys = eligibility::keys(&inq);
                record.npi = Some(keys.npi.to_string()).filter(|n| !n.is_empty());
                record.mbi = Some(inq.subscriber.name.id.to_string()).filter(|m| !m.is_empty());
                record.service_types = inq
                    .subscriber
                    .inquiries
                    .iter()
                    .flat_map(|eq| eq.service_types.iter().map(|s| s.to_string()))
                    .collect();
                let release = self.releases.in_force(inbound.at);
                let ctx = Context { at: inbound.at, release, settings: &self.settings };
                let found =
                    if store_down { Err(None) } else { self.lookup(inbound.submitter, &keys, date).map_err(Some) };
                let decision = match found {
                    Ok(found) => {
                        let facts = Facts {
                            provider: found.reference.provider.as_ref(),
                            relationship: found.relationship,
                            beneficiary: found.beneficiary.as_ref(),
                            cost_sharing: &self.cost_sharing,
                        };
                        eligibility::decide(&inq, &facts, &ctx)
                    }
                    Err(e) => {
                        if let Some(e) = e {
                            tracing::error!(submitter = inbound.submitter, error = %e, "the store could not answer");
                        }
                        eligibility::unavailable(&inq, &ctx)
                    }
                };
                record.aaa_codes = decision.aaa.iter().map(|h| h.code.to_string()).collect();
                record.outcome = if decision.aaa.is_empty() { Outcome::Response271 } else { Outcome::Response271Aaa };
                let env = OutboundEnvelope::reply_to(&interchange, date, time, self.next_control());
                decision.response.write(&env, &mut payload);
                AnswerKind::Response271
            }
        };
        Answer { kind, payload, record }
    }

    /// The provider and relationship of a (submitter, NPI), if read within [`REFERENCE_TTL`].
    fn recent_reference(&self, key: &str, version: Option<u64>) -> Option<Arc<Reference>> {
        let version = version?;
        let references = self.references.lock().unwrap_or_else(PoisonError::into_inner);
        references.get(key).filter(|r| r.version == Some(version) && r.read.elapsed() < REFERENCE_TTL).cloned()
    }

    fn lookup(
        &self,
        submitter: &str,
        keys: &eligibility::Keys<'_>,
        day: x12::Date,
    ) -> Result<Found, store::StoreError> {
        // A unit separator cannot occur in either id.
        let key = format!("{submitter}\u{1f}{}", keys.npi);
        let mbi = keys.mbi.as_deref();
        // Taken before the read: a change committed meanwhile makes what is read now stale.
        let version = self.store.reference_version();
        let (reference, beneficiary) = match self.recent_reference(&key, version) {
            Some(reference) => (reference, mbi.map(|m| self.store.beneficiary(m)).transpose()?.flatten()),
            None => {
                // All three in one read (one statement on SQLite, one round trip on PostgreSQL).
                let facts = self.store.request_facts(submitter, keys.npi, mbi)?;
                let reference = Arc::new(Reference {
                    provider: facts.provider,
                    relationship: facts.relationship,
                    read: std::time::Instant::now(),
                    version,
                });
                if version.is_some() {
                    let mut references = self.references.lock().unwrap_or_else(PoisonError::into_inner);
                    if references.len() >= REFERENCES_KEPT {
                        references.clear();
                    }
                    references.insert(key, reference.clone());
                }
                (reference, facts.beneficiary)
            }
        };
        let declared = &reference.relationship;
        let declared_state = match declared {
            Some(r) if r.active_on(day) => RelationshipState::Active,
            Some(r) if r.status == RelationshipStatus::Suspended => RelationshipState::Suspended,
            _ => RelationshipState::Missing,
        };
        // AAA 41 per the relationship rule (domain §5.6). A relationship suspended for repeated
        // inquiries (D15) or ended for good stays refused whatever the provider attests: the
        // declared relationship is the unit of suspension.
        let relationship = match self.relationship_rule()? {
            RelationshipRule::Declared => declared_state,
            _ if declared_state == RelationshipState::Suspended => RelationshipState::Suspended,
            _ if declared.as_ref().is_some_and(|r| r.status == RelationshipStatus::Permanent) => {
                RelationshipState::Missing
            }
            rule => {
                let attested =
                    self.store.attestation(keys.npi, submitter)?.is_some_and(|a| a.state == AttestationState::Attested);
                match (rule, attested, declared_state) {
                    (RelationshipRule::Attested, true, _) => RelationshipState::Active,
                    (RelationshipRule::Both, true, RelationshipState::Active) => RelationshipState::Active,
                    _ => RelationshipState::Missing,
                }
            }
        };
        Ok(Found { reference, relationship, beneficiary })
    }
}

struct Found {
    reference: Arc<Reference>,
    relationship: RelationshipState,
    beneficiary: Option<eligibility::Beneficiary>,
}
