//! The 2110C loops of a full 271 (decision D5): the 2014 CMS sample shapes of the domain file's
//! §3, in the sample's order: inactive periods, non-covered, Part A, Part B, preventive, therapy
//! and rehabilitation, home health, hospice, ESRD, blood, Part D, Medicare Advantage, MSP, QMB.

use crate::release::{FrequencyRule, PpvMode, PreventiveService};
use crate::{Address, Beneficiary, CostSharing, Period, Release, YearUsage};
use x12::{Benefit, Codes, Contact, Date, DateValue, HealthCareDelivery, Inquiry270, RelatedEntity, ResponseAddress};
use x12::{ResponseDate, ResponseName, ResponseReference, Text, decimal_text, number_text};

/// A service type list of code literals, as a constant the answer borrows: `stc!["42", "45"]`.
macro_rules! stc {
    ($($code:literal),*) => {{
        const CODES: &[Text] = &[$(Text::Borrowed($code)),*];
        CODES
    }};
}

pub(crate) struct Input<'a> {
    pub inquiry: &'a Inquiry270<'a>,
    pub beneficiary: &'a Beneficiary,
    pub cost_sharing: &'a [CostSharing],
    pub release: &'a Release,
    pub today: Date,
    pub from: Date,
    pub to: Date,
}

/// EB03 of active Part A (the CMS sample's list).
pub const PART_A_TYPES: &[Text] =
    stc!["30", "10", "42", "45", "48", "49", "69", "76", "83", "A5", "A7", "AG", "BT", "BU", "BV"];
/// EB03 of active Part B (the CMS sample's list).
pub const PART_B_TYPES: &[Text] = stc![
    "30", "2", "3", "5", "10", "14", "23", "24", "25", "26", "27", "28", "33", "36", "37", "38", "39", "40", "42",
    "50", "51", "52", "53", "67", "69", "73", "76", "83", "86", "98", "A4", "A6", "A8", "AD", "AE", "AF", "AI", "AJ",
    "AK", "AL", "BF", "BG", "BT", "BU", "BV", "DM", "UC"
];

/// Starts one 2110C loop at the end of the answer and hands it back for the chain:
/// `start(out, …).period(…).amount(…)`. Codes are `&'static str` and borrowed into the model;
/// only values from the record (amounts, names, dates) allocate. The loop is built where it
/// stays: a chain of values (`B::new(…).period(…)` then `out.push`) copied the whole benefit,
/// some 500 bytes, two or three times on its way into the list.
type B = Benefit;

#[inline(always)]
fn start<'o>(out: &'o mut Vec<B>, info: &'static str, types: &'static [Text], insurance: impl Into<Text>) -> &'o mut B {
    // `resize_with` writes the default into the list's free slot; `push(Benefit::default())`
    // made it on the stack and copied it in (a memcpy call of some 500 bytes per benefit).
    out.resize_with(out.len() + 1, Benefit::default);
    let last = out.len() - 1;
    let b = &mut out[last];
    b.eb.info = Text::Borrowed(info);
    b.eb.service_types = Codes::Borrowed(types);
    b.eb.insurance_type = insurance.into();
    b
}

trait Build {
    fn service_type(&mut self, t: impl Into<Text>) -> &mut Self;
    fn period(&mut self, p: &'static str) -> &mut Self;
    fn amount(&mut self, a: f64) -> &mut Self;
    fn percent(&mut self, p: f64) -> &mut Self;
    fn quantity(&mut self, q: &'static str, n: u32) -> &mut Self;
    fn plan(&mut self, d: String) -> &mut Self;
    fn hcpcs(&mut self, code: &str) -> &mut Self;
    fn on(&mut self, qualifier: &'static str, d: Date) -> &mut Self;
    fn during(&mut self, qualifier: &'static str, from: Date, to: Date) -> &mut Self;
    fn spanning(&mut self, qualifier: &'static str, from: Date, to: Option<Date>) -> &mut Self;
    fn hsd(
        &mut self,
        quantity_qualifier: &'static str,
        quantity: impl Into<Text>,
        unit: &'static str,
        period: &'static str,
        periods: impl Into<Text>,
    ) -> &mut Self;
    fn msg(&mut self, m: impl Into<Text>) -> &mut Self;
    fn reference(&mut self, q: &'static str, v: impl Into<Text>) -> &mut Self;
    fn related(&mut self, r: RelatedEntity) -> &mut Self;
}

impl Build for Benefit {
    #[inline(always)]
    fn service_type(&mut self, t: impl Into<Text>) -> &mut B {
        self.eb.service_types.to_mut().push(t.into());
        self
    }
    #[inline(always)]
    fn period(&mut self, p: &'static str) -> &mut B {
        self.eb.period = Text::Borrowed(p);
        self
    }
    #[inline(always)]
    fn amount(&mut self, a: f64) -> &mut B {
        self.eb.amount = decimal_text(a);
        self
    }
    #[inline(always)]
    fn percent(&mut self, p: f64) -> &mut B {
        self.eb.percent = decimal_text(p);
        self
    }
    #[inline(always)]
    fn quantity(&mut self, q: &'static str, n: u32) -> &mut B {
        self.eb.quantity_qualifier = Text::Borrowed(q);
        self.eb.quantity = number_text(n);
        self
    }
    #[inline(always)]
    fn plan(&mut self, d: String) -> &mut B {
        self.eb.plan_description = d.into();
        self
    }
    #[inline(always)]
    fn hcpcs(&mut self, code: &str) -> &mut B {
        self.eb.procedure = procedure(code);
        self
    }
    #[inline(always)]
    fn on(&mut self, qualifier: &'static str, d: Date) -> &mut B {
        self.dates.push(ResponseDate::single(qualifier, d));
        self
    }
    #[inline(always)]
    fn during(&mut self, qualifier: &'static str, from: Date, to: Date) -> &mut B {
        self.dates.push(ResponseDate::range(qualifier, from, to));
        self
    }
    /// D8 when the period is open, RD8 when it has ended.
    #[inline(always)]
    fn spanning(&mut self, qualifier: &'static str, from: Date, to: Option<Date>) -> &mut B {
        self.dates.push(ResponseDate {
            qualifier: Text::Borrowed(qualifier),
            value: match to {
                Some(to) => DateValue::Range(from, to),
                None => DateValue::Single(from),
            },
        });
        self
    }
    /// HSD01 quantity qualifier, HSD02 quantity, HSD03 unit, HSD05 period, HSD06 periods.
    #[inline(always)]
    fn hsd(
        &mut self,
        quantity_qualifier: &'static str,
        quantity: impl Into<Text>,
        unit: &'static str,
        period: &'static str,
        periods: impl Into<Text>,
    ) -> &mut B {
        self.deliveries.push(HealthCareDelivery {
            quantity_qualifier: Text::Borrowed(quantity_qualifier),
            quantity: quantity.into(),
            unit: Text::Borrowed(unit),
            period: Text::Borrowed(period),
            periods: periods.into(),
            ..HealthCareDelivery::default()
        });
        self
    }
    #[inline(always)]
    fn msg(&mut self, m: impl Into<Text>) -> &mut B {
        self.messages.push(m.into());
        self
    }
    #[inline(always)]
    fn reference(&mut self, q: &'static str, v: impl Into<Text>) -> &mut B {
        self.references.push(ResponseReference { qualifier: Text::Borrowed(q), value: v.into() });
        self
    }
    #[inline(always)]
    fn related(&mut self, r: RelatedEntity) -> &mut B {
        self.related.push(r);
        self
    }
}

/// EB13 `HC|code`. The codes of the compiled-in preventive catalogs and the home health
/// certifications borrow a constant list; any other code (a release an operator handed in)
/// is allocated. A 271 states a dozen procedure codes, and allocating the list and the code of
/// each cost more than this lookup.
fn procedure(code: &str) -> Codes {
    macro_rules! known {
        ($($c:literal),*) => {
            match code {
                $($c => Codes::Borrowed(stc!["HC", $c]),)*
                _ => Codes::Owned(vec![Text::Borrowed("HC"), Text::Owned(code.to_string())]),
            }
        };
    }
    known!(
        "G0438", "G0439", "80061", "82270", "G0105", "G0121", "77067", "G0117", "G0442", "90670", "90732", "G0180",
        "G0179"
    )
}

fn provider(npi: &str) -> RelatedEntity {
    RelatedEntity {
        name: ResponseName {
            entity: "1P".into(),
            entity_type: "2".into(),
            id_qualifier: "XX".into(),
            id: npi.to_string().into(),
            ..ResponseName::default()
        },
        ..RelatedEntity::default()
    }
}

fn address(a: &Address) -> ResponseAddress {
    ResponseAddress {
        line1: a.line1.clone(),
        line2: a.line2.clone().unwrap_or_default(),
        city: a.city.clone(),
        state: a.state.clone(),
        zip: a.zip.clone(),
    }
}

/// A plan or primary payer (2120C NM1*PRP) with its address and contact numbers.
fn payer(name: &str, addr: Option<&Address>, phone: Option<&str>, website: Option<&str>) -> RelatedEntity {
    let mut numbers = Vec::new();
    if let Some(p) = phone {
        numbers.push(("TE".to_string(), p.to_string()));
    }
    if let Some(w) = website {
        numbers.push(("UR".to_string(), w.to_string()));
    }
    RelatedEntity {
        name: ResponseName {
            entity: "PRP".into(),
            entity_type: "2".into(),
            last: name.to_string().into(),
            ..ResponseName::default()
        },
        address: addr.map(address),
        contacts: if numbers.is_empty() {
            Vec::new()
        } else {
            vec![Contact { function: "IC".into(), name: String::new(), numbers }]
        },
    }
}

fn year_bounds(year: u16) -> (Date, Date) {
    // Years come from valid dates, so January 1 and December 31 exist.
    let first = Date::new(year, 1, 1).unwrap_or(Date { year, month: 1, day: 1 });
    let last = Date::new(year, 12, 31).unwrap_or(Date { year, month: 12, day: 31 });
    (first, last)
}

fn overlapping(periods: &[Period], from: Date, to: Date) -> Option<&Period> {
    periods.iter().find(|p| p.overlaps(from, to))
}

/// D17: eligibility history is served for four years plus the current year. A period that
/// ended before January 1 four years back is not reported.
fn horizon(today: Date) -> Date {
    Date::new(today.year.saturating_sub(4), 1, 1).unwrap_or(today)
}

pub(crate) fn assemble(i: &Input<'_>) -> Vec<Benefit> {
    let b = i.beneficiary;
    let horizon = horizon(i.today);
    // A full answer has 40 to 70 benefits: growing from empty moved them all several times.
    let mut out: Vec<B> = Vec::with_capacity(64);
    let part_a = overlapping(&b.part_a, i.from, i.to);
    let part_b = overlapping(&b.part_b, i.from, i.to);

    // Inactive: the parts of the inquiry period no Part A or Part B period covers.
    for (from, to) in gaps(&b.part_a, &b.part_b, i.from, i.to) {
        if part_a.is_some() || part_b.is_some() {
            start(&mut out, "6", stc!["30"], "").during("307", from, to);
        }
    }
    // Entitlements that do not reach the inquiry period: ended ones with their dates, others
    // (not begun, never held) alone.
    for (periods, active, insurance) in [(&b.part_a, part_a, "MA"), (&b.part_b, part_b, "MB")] {
        if active.is_some() {
            continue;
        }
        let ended: Vec<&Period> = periods.iter().filter(|p| p.to.is_some_and(|t| t < i.from && t >= horizon)).collect();
        if ended.is_empty() {
            start(&mut out, "6", stc!["30"], insurance);
        }
        for p in ended {
            start(&mut out, "6", stc!["30"], insurance).during("307", p.from, p.to.unwrap_or(p.from));
        }
    }
    if part_a.is_some() || part_b.is_some() {
        start(&mut out, "I", stc!["41", "54"], "");
        start(&mut out, "1", stc!["88"], "");
    }

    let year = i.to.year;
    let cost = i.cost_sharing.iter().filter(|c| c.year <= year).max_by_key(|c| c.year);
    let default_usage = YearUsage { year, ..YearUsage::default() };
    let usage = b.usage.iter().find(|u| u.year == year).unwrap_or(&default_usage);
    let (jan1, dec31) = year_bounds(year);

    if let Some(p) = part_a {
        start(&mut out, "1", PART_A_TYPES, "MA").spanning("291", p.from, p.to);
        if let Some(c) = cost {
            part_a_cost_sharing(&mut out, b, c, jan1, dec31);
        }
    }
    if let Some(p) = part_b {
        start(&mut out, "1", PART_B_TYPES, "MB").spanning("291", p.from, p.to);
        if let Some(c) = cost {
            part_b_cost_sharing(&mut out, c, usage, jan1, dec31);
        }
        preventive(&mut out, i, p, cost, jan1, dec31);
        if let Some(c) = cost {
            therapy(&mut out, c, usage, jan1, dec31);
        }
    }
    home_health(&mut out, i);
    hospice(&mut out, i);
    for e in &b.esrd {
        let eb = start(&mut out, "D", &[], "MB").service_type(e.dialysis_method.clone()).on("356", e.from);
        if let Some(d) = e.transplant_discharge {
            eb.on("096", d);
        }
    }
    if part_b.is_some()
        && let Some(c) = cost
    {
        let left = u32::from(c.blood_deductible_pints.saturating_sub(usage.blood_pints_used));
        start(&mut out, "E", stc!["10"], "")
            .period("23")
            .quantity("DB", u32::from(c.blood_deductible_pints))
            .hsd("FL", number_text(left), "", "29", "")
            .during("292", jan1, dec31);
    }
    for d in b.part_d.iter().filter(|d| d.to.is_none_or(|t| t >= i.from) && d.from <= i.to) {
        start(&mut out, "R", stc!["88"], "OT")
            .reference("18", format!("{} {}", d.contract, d.pbp))
            .spanning("292", d.from, d.to)
            .related(payer(&d.plan_name, d.address.as_ref(), d.phone.as_deref(), d.website.as_deref()));
    }
    for m in b.medicare_advantage.iter().filter(|m| m.to.is_none_or(|t| t >= i.from) && m.from <= i.to) {
        start(&mut out, "R", stc!["30"], m.plan_type.clone())
            .reference("18", format!("{} {}", m.contract, m.pbp))
            .spanning("290", m.from, m.to)
            .msg(format!("MCO Bill Option Code- {}", m.bill_option))
            .related(payer(&m.plan_name, m.address.as_ref(), m.phone.as_deref(), m.website.as_deref()));
    }
    for m in b.msp.iter().filter(|m| m.to.is_none_or(|t| t >= horizon)) {
        start(&mut out, "R", stc!["30"], m.msp_type.clone())
            .reference("IG", m.policy.clone())
            .spanning("290", m.from, m.to)
            .related(payer(&m.payer, m.address.as_ref(), None, None));
    }
    for q in b.qmb.iter().filter(|q| q.to.is_none_or(|t| t >= i.from) && q.from <= i.to) {
        start(&mut out, "R", stc!["30"], "QM").plan(format!("{} QMB", q.state)).spanning("290", q.from, q.to);
    }
    out
}

/// Sub-ranges of `from..=to` that no period of either list covers.
fn gaps(a: &[Period], b: &[Period], from: Date, to: Date) -> Vec<(Date, Date)> {
    // Sweep the covered intervals in start order, clipped to the inquiry period.
    let mut covered: Vec<(Date, Date)> = a
        .iter()
        .chain(b)
        .filter(|p| p.overlaps(from, to))
        .map(|p| (p.from.max(from), p.to.map_or(to, |t| t.min(to))))
        .collect();
    covered.sort_unstable();
    let mut out = Vec::new();
    let mut next = from;
    for (start, end) in covered {
        if start > next {
            out.push((next, start.add_days(-1)));
        }
        if end >= next {
            next = end.add_days(1);
        }
    }
    if next <= to {
        out.push((next, to));
    }
    out
}

fn part_a_cost_sharing(out: &mut Vec<B>, b: &Beneficiary, c: &CostSharing, jan1: Date, dec31: Date) {
    let ded = c.part_a_deductible;
    let spells: Vec<_> =
        b.benefit_periods.iter().filter(|s| s.last_billed >= jan1 && s.first_billed <= dec31).collect();
    start(out, "C", stc!["30"], "MA").period("26").amount(ded).during("291", jan1, dec31);
    // The Part A deductible is owed once per benefit period, not per year: the year line states
    // what a new benefit period would cost (the CMS sample shows the full amount there while
    // its spell line shows 0), and each spell of the year gets its own remaining amount.
    start(out, "C", stc!["30"], "MA").period("29").amount(ded).during("291", jan1, dec31);
    for s in &spells {
        start(out, "C", stc!["30"], "MA").period("29").amount((ded - s.part_a_deductible_met).max(0.0)).during(
            "291",
            s.first_billed,
            s.last_billed,
        );
    }
    start(out, "C", stc!["42", "45"], "MA").period("26").amount(0.0).during("292", jan1, dec31);
    let band = |out: &mut Vec<B>, types: &'static [Text], amount: f64, from: u32, to: u32| {
        start(out, "B", types, "MA")
            .period("7")
            .amount(amount)
            .hsd("", "", "DA", "30", number_text(from))
            .hsd("", "", "DA", "31", number_text(to))
            .hsd("", "", "", "26", "1")
            .during("435", jan1, dec31);
    };
    band(out, stc!["30"], 0.0, 0, 60);
    band(out, stc!["30"], c.part_a_coinsurance_day_61_90, 60, 90);
    for s in &spells {
        let used = u32::from(s.hospital_days_used);
        let full = number_text(60u32.saturating_sub(used));
        let coins = number_text(30 - used.saturating_sub(60).min(30));
        start(out, "B", stc!["30"], "MA")
            .period("7")
            .amount(0.0)
            .hsd("", "", "DA", "29", full)
            .hsd("", "", "", "26", "1")
            .during("435", s.first_billed, s.last_billed);
        start(out, "B", stc!["30"], "MA")
            .period("7")
            .amount(c.part_a_coinsurance_day_61_90)
            .hsd("", "", "DA", "29", coins)
            .hsd("", "", "", "26", "1")
            .during("435", s.first_billed, s.last_billed);
    }
    band(out, stc!["AG"], 0.0, 0, 20);
    band(out, stc!["AG"], c.snf_coinsurance_day_21_100, 20, 100);
    for s in &spells {
        let used = u32::from(s.snf_days_used);
        let full = number_text(20u32.saturating_sub(used));
        let coins = number_text(80 - used.saturating_sub(20).min(80));
        for (amount, left) in [(0.0, full), (c.snf_coinsurance_day_21_100, coins)] {
            start(out, "B", stc!["AG"], "MA")
                .period("7")
                .amount(amount)
                .hsd("", "", "DA", "29", left)
                .hsd("", "", "", "26", "1")
                .during("435", s.first_billed, s.last_billed);
        }
    }
    let reserve_left = 60u32.saturating_sub(u32::from(b.lifetime_reserve_days_used));
    start(out, "K", stc!["30"], "MA").period("32").quantity("DY", 60);
    start(out, "K", stc!["30"], "MA").period("33").quantity("DY", reserve_left);
    start(out, "K", stc!["30"], "MA").period("7").amount(c.part_a_lifetime_reserve_day).during("435", jan1, dec31);
    start(out, "K", stc!["A7"], "MA").period("32").quantity("DY", 190);
    start(out, "K", stc!["A7"], "MA").period("33").quantity("DY", 190);
}

fn part_b_cost_sharing(out: &mut Vec<B>, c: &CostSharing, u: &YearUsage, jan1: Date, dec31: Date) {
    let ded = c.part_b_deductible;
    start(out, "C", stc!["30"], "MB").period("23").amount(ded).during("291", jan1, dec31);
    start(out, "C", stc!["30"], "MB")
        .period("29")
        .amount((ded - u.part_b_deductible_met).max(0.0))
        .during("291", jan1, dec31);
    start(out, "A", stc!["30"], "MB").period("27").percent(c.part_b_coinsurance_rate).during("291", jan1, dec31);
    start(out, "A", stc!["42", "67", "AJ"], "MB").period("27").percent(0.0).during("292", jan1, dec31);
    start(out, "A", stc!["A4", "A6", "A8", "AI", "AK"], "MB")
        .period("27")
        .percent(c.part_b_coinsurance_rate)
        .during("292", jan1, dec31);
    start(out, "C", stc!["42", "67", "AJ"], "MB").period("23").amount(0.0).during("292", jan1, dec31);
}

fn therapy(out: &mut Vec<B>, c: &CostSharing, u: &YearUsage, jan1: Date, dec31: Date) {
    start(out, "D", stc!["AD"], "MB").amount(u.ot_used).during("292", jan1, dec31).msg("USED AMOUNT");
    start(out, "D", stc!["AE"], "MB").amount(u.pt_slp_used).during("292", jan1, dec31).msg("USED AMOUNT");
    let pulmonary_left = u32::from(c.pulmonary_rehab_sessions.saturating_sub(u.pulmonary_rehab_used));
    for part in ["Professional", "Technical"] {
        start(out, "F", stc!["BF"], "MB").period("29").quantity("CA", pulmonary_left).msg(part);
    }
    for part in ["Professional", "Technical"] {
        start(out, "F", stc!["BG"], "MB").quantity("99", u32::from(u.cardiac_rehab_used)).msg(part);
    }
    let smoking_left = c.smoking_cessation_sessions.saturating_sub(u.smoking_cessation_used);
    start(out, "F", stc!["67"], "MB").period("22").quantity("VS", u32::from(c.smoking_cessation_sessions)).hsd(
        "VS",
        number_text(u32::from(smoking_left)),
        "",
        "29",
        "",
    );
}

/// The HCPCS codes the 270 asked about (EQ02 `HC`) that the catalog knows; every catalog code
/// for a generic inquiry. An unknown code is answered as a generic inquiry (D3).
fn asked_codes<'r>(i: &Input<'r>) -> (Vec<&'r PreventiveService>, bool) {
    let asked: Vec<&PreventiveService> = i
        .inquiry
        .subscriber
        .inquiries
        .iter()
        .filter_map(|eq| eq.procedure.as_ref())
        .filter(|p| p.qualifier == "HC")
        .filter_map(|p| i.release.preventive(p.code))
        .collect();
    if asked.is_empty() { (i.release.preventive.iter().collect(), false) } else { (asked, true) }
}

fn preventive(out: &mut Vec<B>, i: &Input<'_>, part_b: &Period, cost: Option<&CostSharing>, jan1: Date, dec31: Date) {
    let (codes, specific) = asked_codes(i);
    for svc in codes {
        let code = svc.hcpcs.as_str();
        if svc.ppv && i.release.ppv == PpvMode::Suspended {
            continue;
        }
        // HCPCS-level deductible and coinsurance, for codes asked about by name.
        if specific && let Some(c) = cost {
            let ded = if svc.deductible { c.part_b_deductible } else { 0.0 };
            start(out, "C", &[], "MB").period("23").amount(ded).hcpcs(code).during("292", jan1, dec31);
            start(out, "A", &[], "MB").period("27").percent(svc.coinsurance).hcpcs(code).during("292", jan1, dec31);
        }
        let mut paid: Vec<_> = i.beneficiary.services.iter().filter(|s| s.hcpcs == code && s.date <= i.today).collect();
        paid.sort_by_key(|s| std::cmp::Reverse(s.date));
        if svc.ppv && i.release.ppv == PpvMode::PriorUsage {
            if paid.is_empty() {
                // No date and no NPI: Medicare fee-for-service paid no claim for the code.
                start(out, "D", &[], "MB").hcpcs(code);
            }
            for s in paid.iter().take(i.release.prior_usage_limit) {
                start(out, "D", &[], "MB").hcpcs(code).on("472", s.date).related(provider(&s.npi));
            }
            continue;
        }
        match (paid.first(), svc.rule, svc.months) {
            // Used, and once per lifetime: not covered again.
            (Some(_), Some(FrequencyRule::Lifetime), _) => {
                start(out, "I", &[], "MB").hcpcs(code);
            }
            (Some(last), _, Some(months)) => {
                let next = first_of_month(last.date).add_months(i32::from(months));
                start(out, "D", &[], "MB").hcpcs(code).on("348", next);
            }
            // Never used: eligible from the Part B start.
            _ => {
                start(out, "D", &[], "MB").hcpcs(code).on("348", part_b.from);
            }
        }
    }
}

fn first_of_month(d: Date) -> Date {
    Date::new(d.year, d.month, 1).unwrap_or(d)
}

fn home_health(out: &mut Vec<B>, i: &Input<'_>) {
    let b = i.beneficiary;
    for h in b.home_health.iter().filter(|h| h.from <= i.to && h.to >= i.from) {
        start(out, "X", stc!["42"], "")
            .period("26")
            .during("472", h.from, h.to)
            .on("193", h.first_billed)
            .on("194", h.last_billed)
            .related(provider(&h.npi));
    }
    if b.home_health.iter().any(|h| h.from <= i.to && h.to >= i.from) {
        // Plan-of-care certification (G0180) and re-certifications (G0179).
        for code in ["G0180", "G0179"] {
            let dates: Vec<Date> = b.services.iter().filter(|s| s.hcpcs == code).map(|s| s.date).collect();
            if let Some((first, rest)) = dates.split_first() {
                let eb = start(out, "X", &[], "").hcpcs(code).on("193", *first);
                for d in rest {
                    eb.on("193", *d);
                }
            }
        }
    }
}

fn hospice(out: &mut Vec<B>, i: &Input<'_>) {
    for h in i.beneficiary.hospice.iter().filter(|h| h.from <= i.to && h.to.is_none_or(|t| t >= i.from)) {
        // Hospice benefit periods: two of 90 days, then 60-day periods.
        let length = if h.benefit_period <= 2 { 90 } else { 60 };
        let end = h.to.unwrap_or_else(|| h.from.add_days(length - 1));
        start(out, "X", stc!["45"], "MA")
            .period("26")
            .during("292", h.from, end)
            .msg(format!("Revocation Code - {}", h.revocation_code))
            .related(provider(&h.npi));
        start(out, "D", stc!["45"], "MA").period("26").quantity("99", u32::from(h.benefit_period));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_iso(s).unwrap_or(Date { year: 1, month: 1, day: 1 })
    }

    fn p(from: &str, to: Option<&str>) -> Period {
        Period { from: d(from), to: to.map(d) }
    }

    #[test]
    fn the_history_horizon_is_four_years_plus_the_current_one() {
        assert_eq!(horizon(d("2026-11-16")), d("2022-01-01"));
        assert_eq!(horizon(d("2026-01-01")), d("2022-01-01"));
    }

    #[test]
    fn the_compiled_in_catalogs_borrow_their_procedure_codes() {
        let releases = crate::Releases::builtin().unwrap_or_else(|e| panic!("{e}"));
        for r in releases.all() {
            for svc in &r.preventive {
                let p = procedure(&svc.hcpcs);
                assert!(matches!(p, Codes::Borrowed(_)), "{}: {} allocates", r.id, svc.hcpcs);
                assert_eq!(*p, [Text::Borrowed("HC"), Text::Owned(svc.hcpcs.clone())]);
            }
        }
        assert_eq!(*procedure("99999"), [Text::Borrowed("HC"), Text::Borrowed("99999")]);
        assert!(matches!(procedure("99999"), Codes::Owned(_)));
    }

    #[test]
    fn gaps_are_the_uncovered_days() {
        let (from, to) = (d("2026-01-01"), d("2026-12-31"));
        assert_eq!(gaps(&[p("2001-01-01", None)], &[], from, to), []);
        assert_eq!(gaps(&[p("2001-01-01", Some("2026-05-02"))], &[], from, to), [(d("2026-05-03"), to)]);
        assert_eq!(gaps(&[], &[], from, to), [(from, to)]);
        assert_eq!(
            gaps(&[p("2026-02-01", Some("2026-03-31"))], &[p("2026-03-15", Some("2026-06-30"))], from, to),
            [(from, d("2026-01-31")), (d("2026-07-01"), to)]
        );
        assert_eq!(
            gaps(&[p("2026-02-01", Some("2026-02-10")), p("2026-02-12", None)], &[], from, to),
            [(from, d("2026-01-31")), (d("2026-02-11"), d("2026-02-11"))]
        );
    }
}
