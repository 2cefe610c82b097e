//! The decision: from a decoded 270 and the facts the store found, the 271 to answer.
//!
//! AAA rules follow decision D3: within 2100A and 2100B the first failure answers and lower loops
//! are not processed (the structural HLs and the names are still echoed); every failed 2100C
//! condition gets its own AAA (CORE 259). Without an AAA the full 271 is assembled by
//! [`crate::benefits`].

use crate::ids::{is_valid_mbi, is_valid_npi};
use crate::names::{FirstNameMatch, first_names_match, last_names_match, normalize_first_name};
use crate::{Beneficiary, CostSharing, Instant, Provider, ProviderStanding, Release};
use serde::Serialize;
use x12::{
    Aaa, Contact, Date, Inquiry270, Name, Receiver271, Response271, ResponseAddress, ResponseDate,
    ResponseDemographics, ResponseName, ResponseTrace, Source271, Subscriber271, Text,
};

/// What the operator may tune. The defaults are the binding decisions.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// D2: how a first name must match.
    pub first_name_match: FirstNameMatch,
    /// D3: the inquiry window, years back and months forward from the transaction date.
    pub window_years_back: u16,
    pub window_months_forward: u16,
    /// The 2100A PER: help URLs (qualifier `UR`).
    pub help_urls: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            first_name_match: FirstNameMatch::Exact,
            window_years_back: 4,
            window_months_forward: 4,
            help_urls: vec![
                "https://www.cms.gov/hets-help".to_string(),
                "https://www.cms.gov/center/provider.asp".to_string(),
            ],
        }
    }
}

/// The Submitter/NPI relationship on the transaction date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RelationshipState {
    Active,
    Suspended,
    Missing,
}

/// What the store found for one request.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'f> {
    pub provider: Option<&'f Provider>,
    pub relationship: RelationshipState,
    pub beneficiary: Option<&'f Beneficiary>,
    pub cost_sharing: &'f [CostSharing],
}

/// When and under which rules the request is answered.
#[derive(Clone, Copy, Debug)]
pub struct Context<'c> {
    pub at: Instant,
    pub release: &'c Release,
    pub settings: &'c Settings,
}

/// The loop an AAA was put in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AaaLoop {
    #[serde(rename = "2100A")]
    Source,
    #[serde(rename = "2100B")]
    Receiver,
    #[serde(rename = "2100C")]
    Subscriber,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AaaHit {
    pub loop_id: AaaLoop,
    /// AAA03.
    pub code: &'static str,
}

/// The answer and what the audits need to know about it.
#[derive(Clone, Debug)]
pub struct Decision {
    pub response: Response271,
    pub aaa: Vec<AaaHit>,
    /// AAA 43, 50 or 51: counts against the submitter in the NPI audit (D13).
    pub invalid_npi: bool,
}

/// The keys the store is asked about before deciding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys<'a> {
    /// 2100B NM109 as sent.
    pub npi: &'a str,
    /// 2100C NM109 upper-cased, when NM108 is `MI` and it has the MBI format.
    pub mbi: Option<String>,
}

pub fn keys<'a>(inq: &Inquiry270<'a>) -> Keys<'a> {
    let n = &inq.subscriber.name;
    let mbi = normalized_mbi(n);
    Keys { npi: inq.receiver.name.id, mbi }
}

fn normalized_mbi(n: &Name<'_>) -> Option<String> {
    let mbi = n.id.trim().to_ascii_uppercase();
    (n.id_qualifier == "MI" && is_valid_mbi(mbi.as_bytes())).then_some(mbi)
}

/// The data store could not answer in time: AAA 42 at 2100A, AAA01 `Y` (the request was valid).
pub fn unavailable(inq: &Inquiry270<'_>, ctx: &Context<'_>) -> Decision {
    let mut response = header(inq, ctx);
    echo_sent_name(&mut response, inq);
    response.source.aaa.push(Aaa::new(true, "42", "R"));
    Decision { response, aaa: vec![AaaHit { loop_id: AaaLoop::Source, code: "42" }], invalid_npi: false }
}

/// Decides the answer to one accepted 270.
pub fn decide(inq: &Inquiry270<'_>, facts: &Facts<'_>, ctx: &Context<'_>) -> Decision {
    let mut response = header(inq, ctx);
    let mut hits = Vec::new();
    let mut invalid_npi = false;
    let today = ctx.at.date();

    // 2100A: this system answers for CMS only.
    if inq.source.id != "CMS" {
        response.source.aaa.push(Aaa::new(false, "79", "C"));
        hits.push(AaaHit { loop_id: AaaLoop::Source, code: "79" });
    }

    // 2100B, in D3's order; the first failure answers.
    if hits.is_empty()
        && let Some((code, follow_up)) = receiver_failure(inq, facts, today)
    {
        invalid_npi = matches!(code, "43" | "50" | "51");
        if let Some(r) = response.receiver.as_mut() {
            r.aaa.push(Aaa::new(false, code, follow_up));
        }
        hits.push(AaaHit { loop_id: AaaLoop::Receiver, code });
    }

    let period = inquiry_period(inq, today);
    if hits.is_empty() {
        let codes = subscriber_failures(inq, facts, ctx, &period);
        if let Some(s) = response.subscriber.as_mut() {
            for code in &codes {
                s.aaa.push(Aaa::new(false, code, "C"));
            }
        }
        hits.extend(codes.into_iter().map(|code| AaaHit { loop_id: AaaLoop::Subscriber, code }));
    }

    if hits.is_empty()
        && let (Some(b), InquiryPeriod::Valid { from, to, single }) = (facts.beneficiary, period)
        && let Some(s) = response.subscriber.as_mut()
    {
        echo_beneficiary(s, b, from, to, single);
        s.benefits = crate::benefits::assemble(&crate::benefits::Input {
            inquiry: inq,
            beneficiary: b,
            cost_sharing: facts.cost_sharing,
            release: ctx.release,
            today,
            from,
            to,
        });
    } else if let Some(s) = response.subscriber.as_mut() {
        // An AAA answer echoes what was sent: the name, a valid birth date, a valid period.
        s.name = name(&inq.subscriber.name);
        if let InquiryPeriod::Valid { from, to, single } = period {
            s.dates.push(period_date("307", from, to, single));
        }
    }
    Decision { response, aaa: hits, invalid_npi }
}

fn receiver_failure(inq: &Inquiry270<'_>, facts: &Facts<'_>, today: Date) -> Option<(&'static str, &'static str)> {
    let n = &inq.receiver.name;
    if n.id_qualifier != "XX" || !is_valid_npi(n.id.as_bytes()) {
        return Some(("43", "C"));
    }
    match facts.provider.map(|p| p.standing_on(today)) {
        None | Some(ProviderStanding::NotEnrolled) => return Some(("51", "N")),
        Some(ProviderStanding::Ended) => return Some(("50", "N")),
        Some(ProviderStanding::Enrolled) => {}
    }
    if facts.relationship != RelationshipState::Active {
        return Some(("41", "N"));
    }
    None
}

/// The inquiry period (D4): DTP*291 of 2100C, or today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InquiryPeriod {
    Valid {
        from: Date,
        to: Date,
        single: bool,
    },
    /// Not a date, or a range that ends before it starts (AAA 57).
    Invalid,
    /// Outside today − 4 years … today + 4 months (AAA 62).
    OutsideWindow,
}

fn inquiry_period(inq: &Inquiry270<'_>, today: Date) -> InquiryPeriod {
    let Some(d) = inq.subscriber.dates.iter().find(|d| d.qualifier == "291") else {
        return InquiryPeriod::Valid { from: today, to: today, single: true };
    };
    match d.period() {
        Some((from, to)) if from <= to => InquiryPeriod::Valid { from, to, single: d.format == "D8" },
        _ => InquiryPeriod::Invalid,
    }
}

fn check_window(period: InquiryPeriod, today: Date, s: &Settings) -> InquiryPeriod {
    if let InquiryPeriod::Valid { from, to, .. } = period {
        let earliest = today.add_months(-12 * i32::from(s.window_years_back));
        let latest = today.add_months(i32::from(s.window_months_forward));
        if from < earliest || to > latest {
            return InquiryPeriod::OutsideWindow;
        }
    }
    period
}

fn subscriber_failures(
    inq: &Inquiry270<'_>,
    facts: &Facts<'_>,
    ctx: &Context<'_>,
    period: &InquiryPeriod,
) -> Vec<&'static str> {
    let sub = &inq.subscriber;
    let n = &sub.name;
    let mut codes = Vec::new();
    let found = match normalized_mbi(n) {
        None => {
            codes.push("72");
            None
        }
        Some(_) => {
            if facts.beneficiary.is_none() {
                codes.push("75");
            }
            facts.beneficiary
        }
    };
    // Names: missing, or not matching the record (middle initial and suffix too when sent).
    let name_ok = !n.last.trim().is_empty()
        && !normalize_first_name(n.first).is_empty()
        && found.is_none_or(|b| {
            last_names_match(n.last, &b.last_name)
                && first_names_match(n.first, &b.first_name, ctx.settings.first_name_match)
                && optional_matches(n.middle, b.middle_initial.as_deref(), 1)
                && optional_matches(n.suffix, b.name_suffix.as_deref(), usize::MAX)
        });
    if !name_ok {
        codes.push("73");
    }
    // Birth date: missing or invalid, or not matching.
    let dob = sub
        .demographics
        .as_ref()
        .and_then(|d| (d.format == "D8").then(|| Date::parse_ccyymmdd(d.birth_date.as_bytes())).flatten());
    match dob {
        None => codes.push("58"),
        Some(d) => {
            if found.is_some_and(|b| b.birth_date != Some(d)) {
                codes.push("71");
            }
        }
    }
    let gender = sub.demographics.as_ref().map(|d| d.gender).unwrap_or("");
    if !gender.is_empty() && found.is_some_and(|b| !b.gender.eq_ignore_ascii_case(gender)) {
        codes.push("74");
    }
    match check_window(*period, ctx.at.date(), ctx.settings) {
        InquiryPeriod::Invalid => codes.push("57"),
        InquiryPeriod::OutsideWindow => codes.push("62"),
        InquiryPeriod::Valid { .. } => {}
    }
    codes
}

/// An optional name part that was sent must match the record, comparing the first `len`
/// normalised characters (1 for a middle initial).
fn optional_matches(sent: &str, stored: Option<&str>, len: usize) -> bool {
    let s = normalize_first_name(sent);
    if s.is_empty() {
        return true;
    }
    let t = normalize_first_name(stored.unwrap_or(""));
    let cut = |v: &str| v.chars().take(len).collect::<String>();
    !t.is_empty() && cut(&s) == cut(&t)
}

fn name(n: &Name<'_>) -> ResponseName {
    let t = |v: &str| -> Text { if v.is_empty() { Text::Borrowed("") } else { Text::Owned(v.to_string()) } };
    ResponseName {
        entity: code(n.entity),
        entity_type: code(n.entity_type),
        last: t(n.last),
        first: t(n.first),
        middle: t(n.middle),
        suffix: t(n.suffix),
        id_qualifier: code(n.id_qualifier),
        id: t(n.id),
    }
}

/// An NM1 code as sent: the codes a 270 sends borrow the literal, anything else is allocated.
fn code(v: &str) -> Text {
    macro_rules! known {
        ($($c:literal),*) => {
            match v {
                $($c => Text::Borrowed($c),)*
                _ => Text::Owned(v.to_string()),
            }
        };
    }
    known!("", "IL", "1P", "PR", "FA", "1", "2", "XX", "MI", "PI", "SV", "FI")
}

/// The subscriber's name as the 270 sent it, for an answer that does not echo the record's.
fn echo_sent_name(response: &mut Response271, inq: &Inquiry270<'_>) {
    if let Some(s) = response.subscriber.as_mut() {
        s.name = name(&inq.subscriber.name);
    }
}

/// The loops every answer carries: BHT, CMS, the receiver and the subscriber as sent.
fn header(inq: &Inquiry270<'_>, ctx: &Context<'_>) -> Response271 {
    let sub = &inq.subscriber;
    Response271 {
        control_number: "0001".to_string(),
        purpose: "11".to_string(),
        reference: inq.reference.to_string(),
        date: Some(ctx.at.date()),
        time: ctx.at.time(),
        source: Source271 {
            name: ResponseName {
                entity: "PR".into(),
                entity_type: "2".into(),
                last: "CMS".into(),
                id_qualifier: "PI".into(),
                id: "CMS".into(),
                ..ResponseName::default()
            },
            contacts: if ctx.settings.help_urls.is_empty() {
                Vec::new()
            } else {
                vec![Contact {
                    function: "IC".into(),
                    name: String::new(),
                    numbers: ctx.settings.help_urls.iter().take(3).map(|u| ("UR".to_string(), u.clone())).collect(),
                }]
            },
            aaa: Vec::new(),
        },
        receiver: Some(Receiver271 { name: name(&inq.receiver.name), aaa: Vec::new() }),
        subscriber: Some(Subscriber271 {
            // TRN01 `1` (a trace the submitter made) is echoed as `2` (a referenced trace).
            traces: sub
                .traces
                .iter()
                .map(|t| ResponseTrace {
                    kind: "2".into(),
                    reference: t.reference.to_string(),
                    originator: t.originator.to_string(),
                    supplemental: t.supplemental.to_string(),
                })
                .collect(),
            // The name sent, or the record's for a matched beneficiary, is set by the caller:
            // building the one only to replace it with the other cost six allocations.
            name: ResponseName::default(),
            address: None,
            aaa: Vec::new(),
            demographics: sub.demographics.as_ref().and_then(|d| {
                let birth_date = Date::parse_ccyymmdd(d.birth_date.as_bytes())?;
                Some(ResponseDemographics { birth_date, gender: d.gender.to_string() })
            }),
            dates: Vec::new(),
            benefits: Vec::new(),
        }),
    }
}

fn period_date(qualifier: &'static str, from: Date, to: Date, single: bool) -> ResponseDate {
    if single && from == to { ResponseDate::single(qualifier, from) } else { ResponseDate::range(qualifier, from, to) }
}

/// 2100C of a matched beneficiary: the record's name, address, DMG with gender, DTP*307 and
/// DTP*442 when dead.
fn echo_beneficiary(s: &mut Subscriber271, b: &Beneficiary, from: Date, to: Date, single: bool) {
    s.name = ResponseName {
        entity: "IL".into(),
        entity_type: "1".into(),
        last: b.last_name.clone().into(),
        first: b.first_name.clone().into(),
        middle: b.middle_initial.clone().unwrap_or_default().into(),
        suffix: b.name_suffix.clone().unwrap_or_default().into(),
        id_qualifier: "MI".into(),
        id: b.mbi.clone().into(),
    };
    s.address = b.address.as_ref().map(|a| ResponseAddress {
        line1: a.line1.clone(),
        line2: a.line2.clone().unwrap_or_default(),
        city: a.city.clone(),
        state: a.state.clone(),
        zip: a.zip.clone(),
    });
    s.demographics = b.birth_date.map(|birth_date| ResponseDemographics { birth_date, gender: b.gender.clone() });
    s.dates = vec![period_date("307", from, to, single)];
    if let Some(death) = b.date_of_death {
        s.dates.push(ResponseDate::single("442", death));
    }
}
